//! The README's quick start, run as written: the `orrery up --sim-wecs 3` command from the
//! README (on an OS-chosen port instead of 6443), then the README's block of commands as one
//! `sh -e` script, with `kubectl` (1.31) and `target/release/orrery` (this build's binary)
//! where the commands expect them. The test reads the commands from the README, so the two
//! cannot drift apart.

use orrery_e2e::{Kubectl, Process, orrery_bin};
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The README's `up` command (its arguments after `--`) and its quick-start block.
fn quickstart() -> (Vec<String>, String) {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let up = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release --bin orrery -- up "))
        .expect("the README's `orrery up` command");
    let args = up.split_once(" -- ").expect("--").1.split_whitespace().map(str::to_owned).collect();
    let begin = readme.find("<!-- quickstart:begin -->").expect("quickstart:begin");
    let end = readme.find("<!-- quickstart:end -->").expect("quickstart:end");
    let block = &readme[begin..end];
    let script = block.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block").to_owned();
    (args, script)
}

#[test]
fn the_readme_quickstart_works_as_written() {
    let (up_args, script) = quickstart();
    assert!(up_args.contains(&"--sim-wecs".to_owned()), "{up_args:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(repo().join("examples"), dir.path().join("examples")).expect("examples");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(dir.path().join("target/release")).expect("target");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(orrery_bin(), dir.path().join("target/release/orrery")).expect("orrery");
    let kubectl = Kubectl::new(31, Path::new("unused")).expect("kubectl 1.31");
    std::os::unix::fs::symlink(&kubectl.bin, bin.join("kubectl")).expect("kubectl");

    // Terminal 1, on a free port.
    let args: Vec<String> =
        up_args.iter().map(|a| if a == "127.0.0.1:6443" { "127.0.0.1:0".to_owned() } else { a.clone() }).collect();
    let mut command = Command::new(orrery_bin());
    command.args(&args).current_dir(dir.path());
    let (up, ready) = Process::ready(command).expect("orrery up");
    let _log = up.log_on_panic("orrery up");
    assert_eq!(ready["wecs"], 3, "{ready}");
    for space in ["wds1", "imw1", "wec1", "wec2", "wec3"] {
        assert!(dir.path().join(format!(".orrery/kubeconfigs/{space}.kubeconfig")).exists(), "{space}'s kubeconfig");
    }

    // Terminal 2: the block, as one script that stops at the first failure.
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .args(["-e", "-x", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("KUBECONFIG")
        .output()
        .expect("sh");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the quick start failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("hello"), "the WEC has the Deployment:\n{stdout}");
    assert!(stdout.contains(r#""float":"6""#), "3 WECs × 2 ready replicas:\n{stdout}");
    assert!(stdout.contains("EdgePlacement hello (3 destinations)"), "orrery status:\n{stdout}");
    assert!(
        stdout.contains("deployments.apps demo/hello  status returned, executing-count 3"),
        "orrery status:\n{stdout}"
    );
    drop(up);
}
