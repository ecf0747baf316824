//! Kubeconfig files for spaces: one cluster (a space's URL and the server's CA), one user
//! (a bearer token), one context.

use base64::Engine;
use serde_json::json;

/// Where clients reach the server, and the CA that signed its certificate (`None` for
/// plain HTTP).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `https://127.0.0.1:6443`, without a path.
    pub url: String,
    pub ca_pem: Option<String>,
}

impl Endpoint {
    pub fn space_url(&self, space: &str) -> String {
        format!("{}/clusters/{space}", self.url.trim_end_matches('/'))
    }
}

/// A kubeconfig for one space, as YAML.
pub fn render(endpoint: &Endpoint, space: &str, token: &str) -> String {
    let mut cluster = json!({"server": endpoint.space_url(space)});
    if let Some(ca) = &endpoint.ca_pem {
        cluster["certificate-authority-data"] = json!(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": space, "cluster": cluster}],
        "users": [{"name": space, "user": {"token": token}}],
        "contexts": [{"name": space, "context": {"cluster": space, "user": space}}],
        "current-context": space,
        "preferences": {},
    });
    serde_saphyr::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_usable_kubeconfig() {
        let ep = Endpoint { url: "https://127.0.0.1:6443/".into(), ca_pem: Some("PEM".into()) };
        let text = render(&ep, "wds1", "tok");
        let v: serde_json::Value = serde_saphyr::from_str(&text).expect("yaml");
        assert_eq!(v["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443/clusters/wds1");
        assert_eq!(v["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
        assert_eq!(v["users"][0]["user"]["token"], "tok");
        assert_eq!(v["current-context"], "wds1");
    }
}
