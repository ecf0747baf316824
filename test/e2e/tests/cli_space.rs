//! `orrery space …` against a real server.

use orrery_e2e::{Kubectl, Server, orrery_bin};
use std::process::Command;

fn orrery(server: &Server, args: &[&str]) -> std::process::Output {
    Command::new(orrery_bin())
        .arg("space")
        .args(args)
        .arg("--kubeconfig")
        .arg(&server.kubeconfig)
        .output()
        .expect("orrery runs")
}

fn ok(server: &Server, args: &[&str]) -> String {
    let out = orrery(server, args);
    assert!(out.status.success(), "orrery space {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn spaces_are_created_listed_used_and_deleted() {
    let server = Server::start().expect("server");
    assert!(ok(&server, &["create", "wds1"]).contains("space/wds1 ready"));
    ok(&server, &["create", "mb1"]);
    let list = ok(&server, &["list"]);
    assert!(list.contains("wds1") && list.contains("mb1") && list.contains("Ready"), "{list}");

    // The printed kubeconfig reaches the space, which serves orrery's API as kcp serves a
    // bound one: discovered and usable, with no CRD objects of its own.
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("wds1.kubeconfig");
    std::fs::write(&kc, ok(&server, &["kubeconfig", "wds1"])).expect("write kubeconfig");
    let k = Kubectl::new(31, &kc).expect("kubectl");
    let served = k.ok(&["api-resources", "--api-group=edge.kubestellar.io", "-o", "name"]);
    for want in
        ["edgeplacements.edge.kubestellar.io", "synctargets.edge.kubestellar.io", "syncerconfigs.edge.kubestellar.io"]
    {
        assert!(served.lines().any(|l| l == want), "{want} in {served}");
    }
    assert_eq!(k.ok(&["get", "crds", "-o", "name"]).trim(), "", "no CRD objects are stored for the bound API");
    let placement = "apiVersion: edge.kubestellar.io/v2alpha1\nkind: EdgePlacement\nmetadata:\n  name: p\nspec:\n  locationSelectors: [{matchLabels: {env: prod}}]\n";
    k.ok_stdin(&["apply", "-f", "-"], placement);
    assert_eq!(k.ok(&["get", "edgeplacements", "-o", "name"]).trim(), "edgeplacement.edge.kubestellar.io/p");
    assert!(k.ok(&["get", "svc", "kubernetes", "-n", "default", "-o", "name"]).contains("service/kubernetes"));
    assert!(k.ok(&["get", "clusterrole", "cluster-admin", "-o", "name"]).contains("cluster-admin"));

    // A space token opens its own space and no other.
    let token = ok(&server, &["token", "mb1"]).trim().to_owned();
    assert_eq!(token.len(), 43);
    let as_token = |space: &str| {
        Command::new(&k.bin)
            .args([
                "--server",
                &format!("{}/clusters/{space}", server.url),
                "--token",
                &token,
                "--insecure-skip-tls-verify",
                "get",
                "ns",
                "-o",
                "name",
            ])
            .env("KUBECONFIG", "/dev/null")
            .output()
            .expect("kubectl")
    };
    assert!(as_token("mb1").status.success());
    let denied = as_token("wds1");
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Forbidden"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    assert!(ok(&server, &["delete", "wds1"]).contains("deleted"));
    assert!(!ok(&server, &["list"]).contains("wds1"));
    let gone = orrery(&server, &["kubeconfig", "wds1"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not found"));
    assert!(k.fails(&["get", "ns"]).contains("not found"), "the deleted space no longer serves");
}
