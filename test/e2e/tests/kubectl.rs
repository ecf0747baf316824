//! kubectl against a real `orrery server`, with kubectl 1.30 and 1.31 (each with its own
//! discovery cache): the commands workload authors and platform teams type every day.

use orrery_e2e::{Kubectl, Server, wait_for};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
      - name: sidecar
        image: busybox:1.36
"#;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Schedule, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The desired schedule.
            properties:
              cronSpec: {type: string, description: When to run.}
              replicas: {type: integer}
          status:
            type: object
            properties:
              phase: {type: string}
"#;

fn suite(minor: u32) {
    let server = Server::start().expect("server starts");
    let k = Kubectl::new(minor, &server.kubeconfig).expect("kubectl");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.to_string_lossy().into_owned()
    };

    // Discovery: kubectl sees built-ins with short names, and orrery's Space kind.
    let resources = k.ok(&["api-resources"]);
    for want in ["configmaps", "deployments", "customresourcedefinitions", "spaces", "leases"] {
        assert!(resources.contains(want), "api-resources lacks {want}:\n{resources}");
    }
    assert!(k.ok(&["version"]).contains(&format!("v1.{minor}.")) || minor != 31);

    // create -f, then client-side apply twice with a change.
    k.ok(&["create", "namespace", "shop"]);
    let dep = file("dep.yaml", DEPLOYMENT);
    assert!(k.ok(&["create", "-n", "shop", "-f", &dep]).contains("deployment.apps/web created"));
    k.ok(&["apply", "-n", "shop", "-f", &dep]);
    let dep3 = file("dep3.yaml", &DEPLOYMENT.replace("replicas: 2", "replicas: 3"));
    assert!(k.ok(&["apply", "-n", "shop", "-f", &dep3]).contains("configured"));
    assert_eq!(k.ok(&["get", "-n", "shop", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "3");
    assert_eq!(k.ok(&["get", "-n", "shop", "deploy", "web", "-o", "jsonpath={.metadata.generation}"]), "2");

    // Server-side apply, a conflict with another field manager, then forcing it.
    let cm = file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, labels: {app: web}}\ndata: {color: blue}\n",
    );
    k.ok(&["apply", "--server-side", "-n", "shop", "-f", &cm]);
    let cm2 = file("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: red}\n");
    let conflict = k.fails(&["apply", "--server-side", "--field-manager=other", "-n", "shop", "-f", &cm2]);
    assert!(conflict.contains("conflict with \"kubectl\"") && conflict.contains(".data.color"), "{conflict}");
    k.ok(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n", "shop", "-f", &cm2]);
    assert_eq!(k.ok(&["get", "-n", "shop", "cm", "settings", "-o", "jsonpath={.data.color}"]), "red");

    // get in its forms.
    let yaml = k.ok(&["get", "-n", "shop", "cm", "settings", "-o", "yaml"]);
    assert!(yaml.contains("color: red") && yaml.contains("resourceVersion:"), "{yaml}");
    let json: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "-n", "shop", "deploy", "web", "-o", "json"])).expect("json");
    assert_eq!(json["spec"]["template"]["spec"]["containers"][1]["name"], "sidecar");
    assert!(k.ok(&["get", "-n", "shop", "cm", "-l", "app=web", "-o", "name"]).contains("configmap/settings"));
    assert!(!k.ok(&["get", "-n", "shop", "cm", "-l", "app!=web", "-o", "name"]).contains("settings"));
    assert_eq!(
        k.ok(&["get", "-n", "shop", "cm", "--field-selector", "metadata.name=settings", "-o", "name"]).trim(),
        "configmap/settings"
    );
    let all_ns = k.ok(&["get", "cm", "-A"]);
    assert!(all_ns.contains("shop") && all_ns.contains("settings"), "{all_ns}");
    let table = k.ok(&["get", "-n", "shop", "deploy"]);
    assert!(table.starts_with("NAME") && table.contains("web"), "{table}");

    // get -w in the background while objects change.
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut watch = k
        .command(&["get", "-n", "shop", "cm", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch");
    let out = watch.stdout.take().expect("stdout");
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let saw = |name: &str| {
        let lines = lines.clone();
        let name = name.to_owned();
        rt.block_on(wait_for(Duration::from_secs(20), || {
            let lines = lines.clone();
            let name = name.clone();
            async move { lines.lock().ok()?.iter().any(|l| l.contains(&name)).then_some(()) }
        }))
    };
    saw("configmap/settings").expect("the watch lists what exists");
    k.ok(&["create", "-n", "shop", "configmap", "watched", "--from-literal=a=1"]);
    saw("configmap/watched").expect("the watch sees a new object");
    let _ = watch.kill();
    let _ = watch.wait();

    // describe (reads events by involvedObject field selectors).
    let described = k.ok(&["describe", "-n", "shop", "deploy", "web"]);
    assert!(
        described.contains("Name:") && described.contains("web") && described.contains("nginx:1.25"),
        "{described}"
    );

    // patch: strategic on a Deployment's containers (the sidecar survives), merge, json.
    k.ok(&[
        "patch",
        "-n",
        "shop",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}"#,
    ]);
    assert_eq!(
        k.ok(&["get", "-n", "shop", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}"]),
        "nginx:1.26 busybox:1.36"
    );
    k.ok(&["patch", "-n", "shop", "cm", "settings", "--type=merge", "-p", r#"{"data":{"size":"L"}}"#]);
    k.ok(&[
        "patch",
        "-n",
        "shop",
        "cm",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/data/size","value":"XL"}]"#,
    ]);
    assert_eq!(k.ok(&["get", "-n", "shop", "cm", "settings", "-o", "jsonpath={.data.size}"]), "XL");

    // label / annotate.
    k.ok(&["label", "-n", "shop", "cm", "settings", "team=blue"]);
    k.ok(&["annotate", "-n", "shop", "cm", "settings", "note=hello"]);
    assert!(k.fails(&["label", "-n", "shop", "cm", "settings", "team=red"]).contains("already has a value"));
    k.ok(&["label", "-n", "shop", "cm", "settings", "team=red", "--overwrite"]);
    assert_eq!(k.ok(&["get", "-n", "shop", "cm", "-l", "team=red", "-o", "name"]).trim(), "configmap/settings");

    // delete of an object with a finalizer, then wait --for=delete.
    k.ok(&["create", "-n", "shop", "configmap", "held"]);
    k.ok(&[
        "patch",
        "-n",
        "shop",
        "cm",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    k.ok(&["delete", "-n", "shop", "cm", "held", "--wait=false"]);
    assert!(!k.ok(&["get", "-n", "shop", "cm", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"]).is_empty());
    let waiter = k
        .command(&["wait", "-n", "shop", "--for=delete", "cm/held", "--timeout=30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wait");
    k.ok(&[
        "patch",
        "-n",
        "shop",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let waited = waiter.wait_with_output().expect("wait output");
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    k.fails(&["get", "-n", "shop", "cm", "held"]);

    // wait --for=condition and --for=jsonpath.
    let crd = file("crd.yaml", CRD);
    k.ok(&["create", "-f", &crd]);
    k.ok(&["wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=30s"]);
    k.ok(&["wait", "-n", "shop", "--for=jsonpath={.data.size}=XL", "cm/settings", "--timeout=30s"]);

    // Custom resources: CRUD and printer columns; explain from the CRD's schema.
    let ct = file(
        "ct.yaml",
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: nightly}\nspec: {cronSpec: '0 3 * * *', replicas: 2}\n",
    );
    k.ok(&["apply", "-n", "shop", "-f", &ct]);
    let listed = k.ok(&["get", "-n", "shop", "crontabs"]);
    assert!(listed.contains("SCHEDULE") && listed.contains("0 3 * * *") && listed.contains("REPLICAS"), "{listed}");
    k.ok(&["patch", "-n", "shop", "ct", "nightly", "--type=merge", "-p", r#"{"spec":{"replicas":5}}"#]);
    assert_eq!(k.ok(&["get", "-n", "shop", "ct", "nightly", "-o", "jsonpath={.spec.replicas}"]), "5");
    let explained = k.ok(&["explain", "crontabs.spec.cronSpec"]);
    assert!(explained.contains("When to run."), "{explained}");
    assert!(k.ok(&["explain", "deployments.spec"]).contains("DeploymentSpec"));
    // Fields the schema does not declare: rejected under strict validation, pruned otherwise.
    let bogus = file(
        "bogus.yaml",
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: odd}\nspec: {cronSpec: x, bogus: 1}\n",
    );
    assert!(k.fails(&["create", "-n", "shop", "-f", &bogus]).contains("unknown field \"spec.bogus\""));
    k.ok(&["create", "-n", "shop", "-f", &bogus, "--validate=false"]);
    assert_eq!(k.ok(&["get", "-n", "shop", "ct", "odd", "-o", "jsonpath={.spec}"]), r#"{"cronSpec":"x"}"#);
    k.ok(&["delete", "-n", "shop", "ct", "nightly", "odd"]);

    // --dry-run=server changes nothing.
    k.ok(&["create", "-n", "shop", "configmap", "dry", "--from-literal=a=b", "--dry-run=server"]);
    k.fails(&["get", "-n", "shop", "cm", "dry"]);

    // Namespace delete removes its contents.
    k.ok(&["delete", "namespace", "shop", "--timeout=60s"]);
    let left = k.ok(&["get", "cm", "-A", "-o", "name"]);
    assert!(!left.contains("settings") && !left.contains("watched"), "{left}");
    k.fails(&["get", "namespace", "shop"]);
}

#[test]
fn kubectl_1_30() {
    suite(30);
}

#[test]
fn kubectl_1_31() {
    suite(31);
}
