//! TLS for the broker connection: rustls with the `ring` provider, a CA file, an optional client
//! certificate, and a server-certificate check whose notion of "now" survives a kiosk without a
//! trusted clock.
//!
//! A Raspberry Pi before the Pi 5 has no RTC (see `docs/architecture.md`, "Time"): after a power
//! cut without network it boots in 1970 (or at the last fake-hwclock save), and every certificate
//! would be "not yet valid" — so the kiosk could never reach the broker that would let it learn
//! the time. [`LastKnownGoodVerifier`] checks the chain, the name, the signatures and the
//! validity period as `WebPkiServerVerifier` does, but at `max(clock, last_known_good)`, where
//! `last_known_good` is the latest time the caller has trusted (its last NTP sync, RTC reading, or
//! the build date). A clock that runs slow can only make the check use a time it has already seen
//! to be real; a certificate that expired before that time is still refused.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::LinkError;

/// A source of wall-clock time (injectable so tests can play a kiosk stuck in 1970).
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> WallClock {
    // The one place this crate reads the wall clock; everything else takes time as an argument.
    #[allow(clippy::disallowed_methods)]
    Arc::new(SystemTime::now)
}

/// TLS settings of a broker connection.
#[derive(Clone)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) that signed the broker's certificate.
    pub ca_file: PathBuf,
    /// Optional client certificate chain and private key (PEM files), for brokers that require
    /// `require_certificate true`.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to check in the broker's certificate; defaults to the host we connect to.
    pub server_name: Option<String>,
    /// The latest time the caller knows to be real; certificate validity is checked at
    /// `max(clock(), last_known_good)`.
    pub last_known_good: Option<SystemTime>,
    /// Wall clock; [`system_clock`] unless a test plays a wrong clock.
    pub clock: WallClock,
}

impl TlsOptions {
    /// TLS with a CA file, the system clock, no client certificate.
    pub fn new(ca_file: impl Into<PathBuf>) -> Self {
        TlsOptions {
            ca_file: ca_file.into(),
            client_cert: None,
            server_name: None,
            last_known_good: None,
            clock: system_clock(),
        }
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("server_name", &self.server_name)
            .field("last_known_good", &self.last_known_good)
            .finish_non_exhaustive()
    }
}

fn tls_err(context: &str, e: impl fmt::Display) -> LinkError {
    LinkError::Tls(format!("{context}: {e}"))
}

fn unix_time(t: SystemTime) -> UnixTime {
    // Before 1970 only on a broken clock: treat it as the epoch.
    UnixTime::since_unix_epoch(
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

/// Checks the server certificate like `WebPkiServerVerifier`, at `max(clock, last_known_good)`.
pub struct LastKnownGoodVerifier {
    inner: Arc<WebPkiServerVerifier>,
    last_known_good: Option<SystemTime>,
    clock: WallClock,
}

impl fmt::Debug for LastKnownGoodVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastKnownGoodVerifier")
            .field("last_known_good", &self.last_known_good)
            .finish_non_exhaustive()
    }
}

impl LastKnownGoodVerifier {
    /// A verifier trusting `roots`, with `ring`'s algorithms.
    pub fn new(
        roots: RootCertStore,
        last_known_good: Option<SystemTime>,
        clock: WallClock,
    ) -> Result<Self, LinkError> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| tls_err("CA certificates", e))?;
        Ok(LastKnownGoodVerifier {
            inner,
            last_known_good,
            clock,
        })
    }

    /// The time certificates are checked at.
    pub fn effective_time(&self) -> SystemTime {
        let now = (self.clock)();
        match self.last_known_good {
            Some(floor) if floor > now => floor,
            _ => now,
        }
    }
}

impl ServerCertVerifier for LastKnownGoodVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now_from_rustls: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            unix_time(self.effective_time()),
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, LinkError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_err(&format!("cannot read {}", path.display()), e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(&format!("bad PEM in {}", path.display()), e))?;
    if certs.is_empty() {
        return Err(LinkError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the rustls client configuration for `opts`.
pub fn client_config(opts: &TlsOptions) -> Result<ClientConfig, LinkError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&opts.ca_file)? {
        roots.add(cert).map_err(|e| tls_err("CA certificate", e))?;
    }
    let verifier = LastKnownGoodVerifier::new(roots, opts.last_known_good, opts.clock.clone())?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("protocol versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    match &opts.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = load_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls_err(&format!("cannot read key {}", key.display()), e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_err("client certificate", e))
        }
    }
}

/// The name to check in the broker's certificate.
pub fn server_name(opts: &TlsOptions, host: &str) -> Result<ServerName<'static>, LinkError> {
    let name = opts.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_owned()).map_err(|e| tls_err("server name", e))
}

#[cfg(all(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{TestPki, new_year};

    fn verifier(pki: &TestPki, lkg: Option<SystemTime>, clock_year: i32) -> LastKnownGoodVerifier {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        LastKnownGoodVerifier::new(roots, lkg, Arc::new(move || new_year(clock_year))).unwrap()
    }

    fn check(v: &LastKnownGoodVerifier, pki: &TestPki, name: &str) -> Result<(), rustls::Error> {
        let cert = CertificateDer::from_pem_slice(pki.server_cert_pem.as_bytes()).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        // rustls's own `now` is deliberately wrong: the verifier must not use it.
        let rustls_now = UnixTime::since_unix_epoch(Duration::ZERO);
        v.verify_server_cert(&cert, &[], &name, &[], rustls_now)
            .map(|_| ())
    }

    #[test]
    fn a_clock_in_1970_is_lifted_to_the_last_known_good_time() {
        let pki = TestPki::generate(&["broker.local"]).unwrap();
        // The kiosk booted without RTC: its clock says 1970.
        let err = check(&verifier(&pki, None, 1970), &pki, "broker.local").unwrap_err();
        assert!(format!("{err:?}").contains("NotValidYet"), "{err:?}");
        let lkg = Some(new_year(2026));
        check(&verifier(&pki, lkg, 1970), &pki, "broker.local").unwrap();
        // A trusted clock inside the validity period needs no floor.
        check(&verifier(&pki, None, 2030), &pki, "broker.local").unwrap();
        // The floor never moves time backwards.
        let v = verifier(&pki, Some(new_year(2025)), 2101);
        assert_eq!(v.effective_time(), new_year(2101));
        let err = check(&v, &pki, "broker.local").unwrap_err();
        assert!(format!("{err:?}").contains("Expired"), "{err:?}");
    }

    #[test]
    fn the_floor_does_not_weaken_the_other_checks() {
        let pki = TestPki::generate(&["broker.local"]).unwrap();
        let lkg = Some(new_year(2026));
        let err = check(&verifier(&pki, lkg, 1970), &pki, "other.local").unwrap_err();
        assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
        // A certificate from another CA (same CA name, other key: the signature fails).
        let stranger = TestPki::generate(&["broker.local"]).unwrap();
        let err = check(&verifier(&pki, lkg, 1970), &stranger, "broker.local").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
        // A last-known-good time past the certificate's end is honoured too.
        let err = check(
            &verifier(&pki, Some(new_year(2101)), 1970),
            &pki,
            "broker.local",
        );
        assert!(format!("{err:?}").contains("Expired"), "{err:?}");
    }

    #[test]
    fn new_year_matches_known_timestamps() {
        let secs = |y| {
            new_year(y)
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(secs(1970), 0);
        assert_eq!(secs(2000), 946_684_800);
        assert_eq!(secs(2026), 1_767_225_600);
    }
}
