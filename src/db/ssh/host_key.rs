//! Whether the bastion's host key is trusted: a pinned SHA256 fingerprint, an entry in a
//! known_hosts file, or — only when asked for — any key.
//!
//! known_hosts files are read as OpenSSH writes them: `host`, `[host]:port`, comma-separated
//! patterns with `*`, `?` and `!`, hashed names (`|1|salt|hash`, what `HashKnownHosts`
//! writes) and `@revoked` lines. `@cert-authority` lines are not used (host certificates are
//! not asked for), and the refusal says so when one names the bastion.

use std::path::PathBuf;

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};
use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

use crate::config::HostKeyPolicy;

/// The host-key policy for one bastion.
#[derive(Debug, Clone)]
pub struct HostKeyCheck {
    policy: HostKeyPolicy,
    /// The bastion's name as known_hosts records it: `host`, or `[host]:port` off port 22.
    lookup_name: String,
    /// For messages: `host:port`.
    bastion: String,
}

/// A key recorded for the bastion in a known_hosts file.
struct Recorded {
    file: PathBuf,
    line: usize,
    marker: Option<Marker>,
    key: PublicKey,
}

impl HostKeyCheck {
    /// The policy for the bastion at `host`:`port`.
    pub fn new(policy: HostKeyPolicy, host: &str, port: u16) -> HostKeyCheck {
        let host = host.to_ascii_lowercase();
        let lookup_name = if port == 22 {
            host.clone()
        } else {
            format!("[{host}]:{port}")
        };
        HostKeyCheck {
            policy,
            lookup_name,
            bastion: format!("{host}:{port}"),
        }
    }

    /// The known_hosts files consulted: the one given, or the user's and the system's (as
    /// `ssh` reads them) when nothing is pinned.
    fn files(&self) -> Vec<PathBuf> {
        match &self.policy {
            HostKeyPolicy::Pinned { known_hosts, .. } => known_hosts.iter().cloned().collect(),
            HostKeyPolicy::UserKnownHosts => {
                let mut files: Vec<PathBuf> = std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".ssh").join("known_hosts"))
                    .into_iter()
                    .collect();
                files.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
                files
            }
            HostKeyPolicy::AcceptAny => Vec::new(),
        }
    }

    /// The host-key algorithms to ask the bastion for: those recorded for it first (as `ssh`
    /// does), so that a bastion with several keys shows the one we can check.
    pub fn preferred_algorithms(&self, defaults: &[Algorithm]) -> Vec<Algorithm> {
        let (recorded, _) = self.recorded();
        let known = |algorithm: &Algorithm| {
            recorded
                .iter()
                .filter(|r| r.marker.is_none())
                .any(|r| same_key_type(&r.key.algorithm(), algorithm))
        };
        let mut ordered: Vec<Algorithm> = defaults.iter().filter(|a| known(a)).cloned().collect();
        ordered.extend(defaults.iter().filter(|a| !known(a)).cloned());
        ordered
    }

    /// `Ok` when `offered` is trusted; else why not, with what to do about it.
    pub fn check(&self, offered: &PublicKey) -> Result<(), String> {
        let fingerprint = offered.fingerprint(HashAlg::Sha256).to_string();
        let described = format!("{} {fingerprint}", offered.algorithm());
        if let HostKeyPolicy::AcceptAny = self.policy {
            log::warn!(
                "ssh_tunnel.accept_any_host_key is true: the bastion {}'s host key {described} is accepted WITHOUT being checked, \
                 so a machine posing as the bastion would get the database traffic; pin it with \
                 ssh_tunnel.host_key_fingerprint = \"{fingerprint}\" once you have checked it",
                self.bastion
            );
            return Ok(());
        }
        if let HostKeyPolicy::Pinned { fingerprints, .. } = &self.policy {
            if fingerprints.contains(&fingerprint) {
                return Ok(());
            }
        }
        let (recorded, unreadable) = self.recorded();
        if let Some(revoked) = recorded
            .iter()
            .find(|r| r.marker == Some(Marker::Revoked) && r.key == *offered)
        {
            return Err(format!(
                "the bastion's host key {described} is marked @revoked in {} line {}",
                revoked.file.display(),
                revoked.line
            ));
        }
        let plain: Vec<&Recorded> = recorded.iter().filter(|r| r.marker.is_none()).collect();
        if plain.iter().any(|r| r.key == *offered) {
            return Ok(());
        }
        if let Some(changed) = plain
            .iter()
            .find(|r| same_key_type(&r.key.algorithm(), &offered.algorithm()))
        {
            return Err(format!(
                "the bastion's host key has CHANGED: it offered {described}, but {} line {} records another {} key for {}. \
                 Someone may be intercepting the connection, or the bastion was reinstalled: check the new key \
                 (on the bastion: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before updating that file",
                changed.file.display(),
                changed.line,
                offered.algorithm(),
                self.lookup_name
            ));
        }
        Err(self.unknown(&described, &fingerprint, &plain, &recorded, unreadable))
    }

    /// The refusal of a key nothing records, saying where we looked and how to pin it.
    fn unknown(
        &self,
        described: &str,
        fingerprint: &str,
        plain: &[&Recorded],
        recorded: &[Recorded],
        unreadable: Vec<String>,
    ) -> String {
        let mut looked = Vec::new();
        if let HostKeyPolicy::Pinned { fingerprints, .. } = &self.policy {
            if !fingerprints.is_empty() {
                looked.push(format!(
                    "ssh_tunnel.host_key_fingerprint ({})",
                    fingerprints.join(", ")
                ));
            }
        }
        looked.extend(self.files().iter().map(|f| f.display().to_string()));
        let mut message = format!(
            "the bastion's host key {described} is not trusted: it is not in {}",
            looked.join(" nor in ")
        );
        if !plain.is_empty() {
            let types: Vec<String> = plain
                .iter()
                .map(|r| r.key.algorithm().to_string())
                .collect();
            message.push_str(&format!(
                " (which records only {} for {})",
                types.join(", "),
                self.lookup_name
            ));
        }
        if recorded
            .iter()
            .any(|r| r.marker == Some(Marker::CertAuthority))
        {
            message.push_str(" (@cert-authority lines are not supported)");
        }
        for problem in unreadable {
            message.push_str(&format!(" ({problem})"));
        }
        message.push_str(&format!(
            ". Check that this is the bastion's key (on the bastion: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and set \
             ssh_tunnel.host_key_fingerprint to \"{fingerprint}\", or add the key to a known_hosts file named by ssh_tunnel.known_hosts"
        ));
        message
    }

    /// Every key the consulted files record for the bastion, and what could not be read.
    fn recorded(&self) -> (Vec<Recorded>, Vec<String>) {
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        for file in self.files() {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => {
                    unreadable.push(format!("cannot read {}: {error}", file.display()));
                    continue;
                }
            };
            let mut bad_lines = Vec::new();
            for (index, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match line.parse::<Entry>() {
                    Ok(entry) if self.names_bastion(entry.host_patterns()) => {
                        found.push(Recorded {
                            file: file.clone(),
                            line: index + 1,
                            marker: entry.marker().copied(),
                            key: entry.public_key().clone(),
                        })
                    }
                    Ok(_) => {}
                    Err(_) => bad_lines.push((index + 1).to_string()),
                }
            }
            if !bad_lines.is_empty() {
                unreadable.push(format!(
                    "lines {} of {} could not be read",
                    bad_lines.join(", "),
                    file.display()
                ));
            }
        }
        (found, unreadable)
    }

    /// Whether a line's host patterns name the bastion.
    fn names_bastion(&self, patterns: &HostPatterns) -> bool {
        names(patterns, &self.lookup_name)
    }

    /// For messages: `host:port`.
    pub fn bastion(&self) -> &str {
        &self.bastion
    }
}

/// Whether host patterns name `name` (`host` or `[host]:port`): a hashed name must hash to
/// it; in a pattern list one positive match is needed and a negated match rules it out.
fn names(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mac) = Hmac::<Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.chain_update(name.as_bytes()).verify_slice(hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for pattern in list {
                let pattern = pattern.to_ascii_lowercase();
                match pattern.strip_prefix('!') {
                    Some(negated) if glob(negated.as_bytes(), name.as_bytes()) => return false,
                    Some(_) => {}
                    None => matched |= glob(pattern.as_bytes(), name.as_bytes()),
                }
            }
            matched
        }
    }
}

/// OpenSSH's wildcard match: `*` any run of characters, `?` any one.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Whether two host-key algorithms use the same kind of key (`ssh-rsa`, `rsa-sha2-256` and
/// `rsa-sha2-512` all sign with one RSA key).
fn same_key_type(a: &Algorithm, b: &Algorithm) -> bool {
    matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. })) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICpq24ARudivROQx2PgwGKhu04H8xuDny44iLJGopQPF";
    const KEY1_FINGERPRINT: &str = "SHA256:94eaUz0d6DVjRxyyK9XT+k1zuo5ixREGHT+bl/27vU8";
    const KEY2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPygEYW4MaJPmTXFrStUwjiJ8yRu5KSu6Fg/9dloVlCy";
    const KEY3: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBC+BQaLxxi6aWngJiFB7zofNOzUvBdzN6tAIkDfhB8CsIO4DlTRbjGvH5cAIZ8a1W7QhUhpKoXYgr+eZmOrCfH0=";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn known_hosts(lines: &str) -> (tempfile_dir::Dir, PathBuf) {
        let dir = tempfile_dir::Dir::new();
        let path = dir.path.join("known_hosts");
        std::fs::write(&path, lines).unwrap();
        (dir, path)
    }

    /// A throwaway directory (no tempfile dependency for one test module).
    mod tempfile_dir {
        pub struct Dir {
            pub path: std::path::PathBuf,
        }
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "tp-known-hosts-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir { path }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }

    fn pinned(path: Option<PathBuf>, fingerprints: &[&str]) -> HostKeyPolicy {
        HostKeyPolicy::Pinned {
            fingerprints: fingerprints.iter().map(|f| f.to_string()).collect(),
            known_hosts: path,
        }
    }

    #[test]
    fn a_pinned_fingerprint_accepts_that_key_only_and_the_refusal_names_the_offered_one() {
        let check = HostKeyCheck::new(pinned(None, &[KEY1_FINGERPRINT]), "bastion", 22);
        assert_eq!(check.check(&key(KEY1)), Ok(()));
        let refusal = check.check(&key(KEY2)).unwrap_err();
        let offered = key(KEY2).fingerprint(HashAlg::Sha256).to_string();
        assert!(refusal.contains("is not trusted"), "{refusal}");
        assert!(refusal.contains(&format!("\"{offered}\"")), "{refusal}");
        assert!(refusal.contains(KEY1_FINGERPRINT), "{refusal}");
    }

    #[test]
    fn known_hosts_entries_by_name_port_pattern_and_hash() {
        let hashed = {
            let salt = b"0123456789abcdefghij";
            let mac = Hmac::<Sha1>::new_from_slice(salt)
                .unwrap()
                .chain_update(b"[hashed.example]:2222")
                .finalize()
                .into_bytes();
            use russh::keys::ssh_key::encoding::base64::{Base64, Encoding};
            format!(
                "|1|{}|{}",
                Base64::encode_string(salt),
                Base64::encode_string(&mac)
            )
        };
        let (_dir, path) = known_hosts(&format!(
            "# comment\n\
             plain.example {KEY1}\n\
             [ported.example]:2222 {KEY1}\n\
             *.wild.example,!bad.wild.example {KEY1}\n\
             {hashed} {KEY1}\n\
             not a key line\n"
        ));
        let accepts = |host: &str, port: u16| {
            HostKeyCheck::new(pinned(Some(path.clone()), &[]), host, port)
                .check(&key(KEY1))
                .is_ok()
        };
        assert!(accepts("plain.example", 22));
        assert!(accepts("PLAIN.example", 22));
        assert!(
            !accepts("plain.example", 2222),
            "port 2222 is [plain.example]:2222"
        );
        assert!(accepts("ported.example", 2222));
        assert!(accepts("a.wild.example", 22));
        assert!(!accepts("bad.wild.example", 22));
        assert!(accepts("hashed.example", 2222));
        assert!(!accepts("hashed.example", 22));
        let refusal = HostKeyCheck::new(pinned(Some(path.clone()), &[]), "other", 22)
            .check(&key(KEY1))
            .unwrap_err();
        assert!(refusal.contains("lines 6 of"), "{refusal}");
    }

    #[test]
    fn a_changed_key_of_the_same_type_is_refused_as_changed() {
        let (_dir, path) = known_hosts(&format!("bastion {KEY1}\n"));
        let check = HostKeyCheck::new(pinned(Some(path), &[]), "bastion", 22);
        let refusal = check.check(&key(KEY2)).unwrap_err();
        assert!(refusal.contains("CHANGED"), "{refusal}");
        assert!(refusal.contains("line 1"), "{refusal}");
    }

    #[test]
    fn a_key_of_another_type_is_unknown_and_recorded_types_are_asked_for_first() {
        let (_dir, path) = known_hosts(&format!("bastion {KEY3}\n"));
        let check = HostKeyCheck::new(pinned(Some(path), &[]), "bastion", 22);
        let refusal = check.check(&key(KEY1)).unwrap_err();
        assert!(
            refusal.contains("records only ecdsa-sha2-nistp256"),
            "{refusal}"
        );
        let preferred = check.preferred_algorithms(&[Algorithm::Ed25519, key(KEY3).algorithm()]);
        assert_eq!(preferred[0], key(KEY3).algorithm());
        assert_eq!(preferred.len(), 2);
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_pinned_elsewhere_in_the_file() {
        let (_dir, path) = known_hosts(&format!("@revoked * {KEY1}\nbastion {KEY1}\n"));
        let check = HostKeyCheck::new(pinned(Some(path), &[]), "bastion", 22);
        let refusal = check.check(&key(KEY1)).unwrap_err();
        assert!(refusal.contains("@revoked"), "{refusal}");
    }

    #[test]
    fn accept_any_accepts_any() {
        let check = HostKeyCheck::new(HostKeyPolicy::AcceptAny, "bastion", 22);
        assert_eq!(check.check(&key(KEY2)), Ok(()));
    }
}
