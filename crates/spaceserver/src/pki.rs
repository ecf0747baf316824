//! The server's certificates: a self-signed CA made on first start and kept in the data
//! directory (so kubeconfigs stay valid across restarts), and a serving certificate it
//! signs at every start for 127.0.0.1, ::1, localhost and the advertised host.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::fs;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Io { what, source }
}

/// PEM material for serving TLS.
pub struct Certificates {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

fn ca_params() -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "orrery-ca");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(p)
}

/// Writes a private file (mode 0600 where the platform has modes).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Loads the CA from `dir` (making it on first use) and issues a serving certificate.
pub fn load_or_create(dir: &Path, extra_hosts: &[String]) -> Result<Certificates, PkiError> {
    let (ca_cert_path, ca_key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (ca_pem, ca_key) = if ca_cert_path.exists() && ca_key_path.exists() {
        let pem = fs::read_to_string(&ca_cert_path).map_err(io(format!("reading {}", ca_cert_path.display())))?;
        let key_pem = fs::read_to_string(&ca_key_path).map_err(io(format!("reading {}", ca_key_path.display())))?;
        (pem, KeyPair::from_pem(&key_pem)?)
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        fs::write(&ca_cert_path, cert.pem()).map_err(io(format!("writing {}", ca_cert_path.display())))?;
        write_private(&ca_key_path, &key.serialize_pem()).map_err(io(format!("writing {}", ca_key_path.display())))?;
        (cert.pem(), key)
    };
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut names = vec!["127.0.0.1".to_owned(), "::1".to_owned(), "localhost".to_owned()];
    for h in extra_hosts {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, "orrery-server");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Certificates { ca_pem, server_cert_pem: cert.pem(), server_key_pem: key.serialize_pem() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path(), &["orrery.example".into()]).expect("first start");
        let second = load_or_create(dir.path(), &[]).expect("second start");
        assert_eq!(first.ca_pem, second.ca_pem, "the CA survives restarts");
        assert_ne!(first.server_key_pem, second.server_key_pem, "serving keys are fresh");
        assert!(first.server_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
