//! `orrery crds`: the CRDs of orrery's API, to stdout or as one file each.

use anyhow::Context;
use std::fs;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Write one `<group>_<plural>.yaml` per CRD into this directory (created if missing),
    /// and remove stale ones, instead of printing a multi-document YAML stream.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let crds = orrery_api::crds::all();
    let Some(dir) = &args.out else {
        let mut stdout = std::io::stdout().lock();
        for crd in &crds {
            writeln!(stdout, "---\n{}", orrery_api::crds::to_yaml(crd)?.trim_end())?;
        }
        return Ok(());
    };
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for crd in &crds {
        let name = orrery_api::crds::file_name(crd);
        let path = dir.join(&name);
        fs::write(&path, orrery_api::crds::to_yaml(crd)?).with_context(|| format!("writing {}", path.display()))?;
        written.push(name);
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let generated_by_us = name.starts_with(&format!("{}_", orrery_api::GROUP)) && name.ends_with(".yaml");
        if generated_by_us && !written.contains(&name) {
            fs::remove_file(entry.path()).with_context(|| format!("removing stale {}", entry.path().display()))?;
        }
    }
    eprintln!("wrote {} CRDs to {}", written.len(), dir.display());
    Ok(())
}
