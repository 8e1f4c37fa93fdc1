//! `--metrics-addr`: `HOST:PORT`, or a bare `PORT` meaning 127.0.0.1.

use std::net::{SocketAddr, ToSocketAddrs};

/// The address the metrics endpoint listens on, as given (resolved when bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsAddr {
    host: String,
    port: u16,
}

impl MetricsAddr {
    /// Resolves to the first address of the host.
    pub(crate) fn resolve(&self) -> std::io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("the host has no address"))
    }

    /// The base URL of the endpoint (`http://host:port`).
    pub(crate) fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url().trim_start_matches("http://"))
    }
}

/// Parses `9100`, `127.0.0.1:9100`, `0.0.0.0:9100`, `localhost:9100` or `[::1]:9100`.
pub(crate) fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, String> {
    let text = text.trim();
    let port = |digits: &str| {
        digits
            .parse::<u16>()
            .map_err(|_| format!("'{digits}' is not a port number (0 to 65535)"))
    };
    if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        return Ok(MetricsAddr {
            host: "127.0.0.1".to_owned(),
            port: port(text)?,
        });
    }
    let (host, digits) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': an IPv6 address needs its closing ']'"))?;
        let digits = after
            .strip_prefix(':')
            .ok_or_else(|| format!("'{text}' has no port: write [ADDRESS]:PORT"))?;
        (host, digits)
    } else {
        text.rsplit_once(':')
            .filter(|(host, _)| !host.contains(':'))
            .ok_or_else(|| format!("'{text}' is not HOST:PORT or a port number such as 9100"))?
    };
    if host.is_empty() {
        return Err(format!(
            "'{text}' has no host: write HOST:PORT, or only the port"
        ));
    }
    Ok(MetricsAddr {
        host: host.to_owned(),
        port: port(digits)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let loopback = parse_metrics_addr("9100").unwrap();
        assert_eq!(loopback.url(), "http://127.0.0.1:9100");
        assert_eq!(
            parse_metrics_addr("0.0.0.0:80").unwrap().url(),
            "http://0.0.0.0:80"
        );
        assert_eq!(
            parse_metrics_addr("[::1]:9100").unwrap().url(),
            "http://[::1]:9100"
        );
        assert_eq!(
            parse_metrics_addr("localhost:0").unwrap().to_string(),
            "localhost:0"
        );
        assert!(loopback.resolve().unwrap().ip().is_loopback());
        for bad in [
            "",
            "host",
            ":9100",
            "host:",
            "host:99999",
            "::1:9100",
            "[::1]",
            "[::1:9",
            "a:b",
        ] {
            assert!(parse_metrics_addr(bad).is_err(), "{bad}");
        }
    }
}
