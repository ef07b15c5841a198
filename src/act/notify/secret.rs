//! Secrets (webhook URLs, passwords, HMAC keys): held in a newtype whose Debug and Display print
//! `***`, so a secret cannot reach a log line, an error or a `{:?}` by accident. Only the code
//! that hands it to a peer calls [`Secret::expose`].

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: only for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of this secret replaced by `***` (belt and braces for
    /// texts that come from peers or libraries).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let secret = Secret::new("https://hooks.example/T000/B000/XXXX");
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        assert_eq!(
            secret.redact("posting to https://hooks.example/T000/B000/XXXX failed"),
            "posting to *** failed"
        );
        assert_eq!(secret.expose(), "https://hooks.example/T000/B000/XXXX");
    }
}
