//! Comparing the deployment's peer secret with what a client presents.

/// Whether two secrets are equal, in time that does not depend on where they differ (`subtle`;
/// only the length may show, and a secret's length is not secret).
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_only_when_equal() {
        assert!(super::same_secret("s3cret", "s3cret"));
        assert!(!super::same_secret("s3cret", "s3creT"));
        assert!(!super::same_secret("s3cret", "s3cre"));
        assert!(!super::same_secret("", "x"));
    }
}
