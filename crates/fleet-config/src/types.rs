//! Domain values of the config that are more than a name or a number: engines,
//! sanitizers, tier modes, hub URLs, SSH destinations and HTTP URLs, each parsed from
//! the string a user writes, with a message that says what was expected.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// How a target is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `"libfuzzer"`: any binary linked with libFuzzer (`-fsanitize=fuzzer`, cargo-fuzz).
    LibFuzzer,
}

/// Engines fuzzfleet knows of but cannot drive yet: named so the message can say
/// "not supported yet" instead of "unknown".
const PLANNED_ENGINES: &[&str] = &["aflpp", "honggfuzz"];
// (`aflpp` runs beside libFuzzer through `engines`, never as a target's only engine.)

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::LibFuzzer => "libfuzzer",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "libfuzzer" => Ok(Engine::LibFuzzer),
            "aflpp" => Err(
                "engine \"aflpp\" runs beside libfuzzer, not alone: list it in `engines = [\"libfuzzer\", \"aflpp\"]` (and give a prebuilt target `afl_binary`)"
                    .into(),
            ),
            _ if PLANNED_ENGINES.contains(&s) => Err(format!(
                "engine \"{s}\" is not supported yet (supported: \"libfuzzer\")"
            )),
            _ => Err(format!("unknown engine \"{s}\" (expected \"libfuzzer\")")),
        }
    }
}

/// Whether a cargo-fuzz project's targets also run under AFL++ (with CmpLog), beside
/// libFuzzer, which every target runs: triage reproduces every engine's findings with
/// the libFuzzer build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AflppChoice {
    /// `engines` not set: AFL++ when it can be built here; otherwise the build says
    /// why once and the targets run libFuzzer alone.
    Auto,
    /// `"aflpp"` listed: as `auto`, but `doctor` counts AFL++ missing as a problem.
    On,
    /// `engines = ["libfuzzer"]`: libFuzzer alone, no AFL++ build.
    Off,
}

impl AflppChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            AflppChoice::Auto => "auto",
            AflppChoice::On => "on",
            AflppChoice::Off => "off",
        }
    }

    /// Whether AFL++ is to be built and run when it is available.
    pub fn wanted(self) -> bool {
        self != AflppChoice::Off
    }
}

/// The engines of an `engines = [...]` list: `"libfuzzer"` (required) and optionally
/// `"aflpp"`. `Err` says what is wrong with one name or with the whole list.
pub fn parse_engines<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<AflppChoice, String> {
    let mut libfuzzer = false;
    let mut aflpp = false;
    for name in names {
        let seen = match name {
            "libfuzzer" => &mut libfuzzer,
            "aflpp" => &mut aflpp,
            _ if PLANNED_ENGINES.contains(&name) => {
                return Err(format!(
                    "engine \"{name}\" is not supported yet (supported: \"libfuzzer\", \"aflpp\")"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown engine \"{name}\" (expected \"libfuzzer\" or \"aflpp\")"
                ));
            }
        };
        if *seen {
            return Err(format!("engine \"{name}\" is listed twice"));
        }
        *seen = true;
    }
    if !libfuzzer {
        return Err(
            "engines must include \"libfuzzer\": every engine's crashes are reproduced with the libFuzzer build (e.g. engines = [\"libfuzzer\", \"aflpp\"])"
                .into(),
        );
    }
    Ok(if aflpp {
        AflppChoice::On
    } else {
        AflppChoice::Off
    })
}

/// The sanitizer a Rust cargo-fuzz target is built with (as `cargo fuzz build -s`).
/// For a prebuilt binary it only records what the binary was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sanitizer {
    /// `"address"`: AddressSanitizer, cargo-fuzz's default.
    Address,
    /// `"none"`: coverage instrumentation only; faster, finds fewer memory bugs.
    None,
}

impl Sanitizer {
    pub fn as_str(self) -> &'static str {
        match self {
            Sanitizer::Address => "address",
            Sanitizer::None => "none",
        }
    }
}

impl fmt::Display for Sanitizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sanitizer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "address" => Ok(Sanitizer::Address),
            "none" => Ok(Sanitizer::None),
            _ => Err(format!(
                "unknown sanitizer \"{s}\" (expected \"address\" or \"none\")"
            )),
        }
    }
}

/// How a campaign gives core time to targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Every target gets a first turn within the first hour; then core time goes where
    /// coverage still grows, a tier's budget weighing its targets (48 h against 12 h: 4
    /// to 1), with a small share for plateaued targets.
    #[default]
    Coverage,
    /// The tiers' budgets as a wall clock: each target runs for its budget per cycle.
    Fixed,
    /// Every target of every tier in equal time slices, taking turns.
    Equal,
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Coverage => "coverage",
            Schedule::Fixed => "fixed",
            Schedule::Equal => "equal",
        }
    }
}

/// How a tier shares its workers among its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierMode {
    /// All of the tier's workers on one target for its budget, then the next target.
    Sequential,
    /// Targets side by side; with more targets than workers they take turns, `slice`
    /// of wall-clock time at a time.
    Parallel { slice: Duration },
}

impl TierMode {
    /// The slice of a parallel tier when `slice` is not given.
    pub const DEFAULT_SLICE: Duration = Duration::from_secs(3600);
}

/// Where nodes sync corpora, crashes and heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubUrl {
    /// `file:///abs/path`: a directory (local or a shared mount).
    Dir(PathBuf),
    /// `s3://bucket/prefix`: an S3-compatible bucket; `prefix` has no leading or
    /// trailing `/` and may be empty.
    S3 { bucket: String, prefix: String },
}

impl fmt::Display for HubUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubUrl::Dir(path) => write!(f, "file://{}", path.display()),
            HubUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            HubUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl FromStr for HubUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "hub url \"{s}\" must name an absolute path (e.g. \"file:///srv/fuzzfleet-hub\")"
                ));
            }
            if path.split('/').any(|seg| seg == "..") {
                return Err(format!("hub url \"{s}\" must not contain \"..\""));
            }
            return Ok(HubUrl::Dir(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            if !bucket_ok {
                return Err(format!(
                    "hub url \"{s}\": invalid bucket name \"{bucket}\" (3 to 63 characters: a-z, 0-9, '.', '-')"
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|seg| seg == ".." || seg == ".")
                || prefix.contains("//")
                || prefix.chars().any(char::is_whitespace)
            {
                return Err(format!(
                    "hub url \"{s}\": invalid prefix \"{prefix}\" (no empty, \".\" or \"..\" segments, no spaces)"
                ));
            }
            return Ok(HubUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        match s.split_once("://") {
            Some((scheme, _)) => Err(format!(
                "unsupported hub url scheme \"{scheme}://\" (expected \"file://\" or \"s3://\")"
            )),
            None => Err(format!(
                "hub url \"{s}\" has no scheme (expected \"file:///path\" or \"s3://bucket/prefix\")"
            )),
        }
    }
}

/// An OpenSSH destination, `[user@]host[:port]` (IPv6 hosts in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDest {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshDest {
    /// `user@host` or `host`, as `ssh` takes it (the port goes to `-p`).
    pub fn destination(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for SshDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl FromStr for SshDest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let fail = |why: &str| {
            Err(format!(
                "invalid ssh destination \"{s}\": {why} (expected \"user@host\" or \"user@host:port\")"
            ))
        };
        let (user, hostport) = match s.split_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, s),
        };
        if let Some(user) = user {
            // A leading '-' would be read by ssh as an option.
            if user.starts_with('-') {
                return fail("starts with '-', which ssh would read as an option");
            }
            if user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return fail("bad user name");
            }
        }
        let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
            let Some((host, after)) = rest.split_once(']') else {
                return fail("unclosed '['");
            };
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return fail("unexpected text after ']'"),
                },
            }
        } else {
            match hostport.split_once(':') {
                Some((_, port)) if port.contains(':') => {
                    return fail("write an IPv6 address in brackets");
                }
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.starts_with('-') {
            return fail("starts with '-', which ssh would read as an option");
        }
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
        {
            return fail("bad host");
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => return fail("bad port"),
            },
        };
        Ok(SshDest {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        })
    }
}

/// An `http://` or `https://` URL with a host (an agent's API, a webhook).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HttpUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"));
        let Some(rest) = rest else {
            return Err(format!(
                "invalid url \"{s}\" (expected \"http://…\" or \"https://…\")"
            ));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("invalid url \"{s}\": no host, or spaces in it"));
        }
        Ok(HttpUrl(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines() {
        assert_eq!("libfuzzer".parse(), Ok(Engine::LibFuzzer));
        assert!(
            "aflpp"
                .parse::<Engine>()
                .unwrap_err()
                .contains("runs beside libfuzzer, not alone")
        );
        assert!(
            "honggfuzz"
                .parse::<Engine>()
                .unwrap_err()
                .contains("not supported yet")
        );
        assert_eq!(
            "afl".parse::<Engine>().unwrap_err(),
            "unknown engine \"afl\" (expected \"libfuzzer\")"
        );
    }

    #[test]
    fn engine_lists() {
        assert_eq!(parse_engines(["libfuzzer", "aflpp"]), Ok(AflppChoice::On));
        assert_eq!(parse_engines(["aflpp", "libfuzzer"]), Ok(AflppChoice::On));
        assert_eq!(parse_engines(["libfuzzer"]), Ok(AflppChoice::Off));
        assert!(
            parse_engines(["aflpp"])
                .unwrap_err()
                .contains("must include \"libfuzzer\"")
        );
        assert!(parse_engines([]).unwrap_err().contains("must include"));
        assert_eq!(
            parse_engines(["libfuzzer", "libfuzzer"]).unwrap_err(),
            "engine \"libfuzzer\" is listed twice"
        );
        assert!(
            parse_engines(["libfuzzer", "honggfuzz"])
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(
            parse_engines(["libfuzzer", "afl"])
                .unwrap_err()
                .contains("unknown engine \"afl\"")
        );
        assert!(
            AflppChoice::Auto.wanted() && AflppChoice::On.wanted() && !AflppChoice::Off.wanted()
        );
    }

    #[test]
    fn hub_urls() {
        assert_eq!(
            "file:///srv/hub".parse(),
            Ok(HubUrl::Dir(PathBuf::from("/srv/hub")))
        );
        assert_eq!(
            "s3://fuzz-hub/fleet/a/".parse(),
            Ok(HubUrl::S3 {
                bucket: "fuzz-hub".into(),
                prefix: "fleet/a".into()
            })
        );
        assert_eq!(
            "s3://fuzz-hub".parse(),
            Ok(HubUrl::S3 {
                bucket: "fuzz-hub".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            "s3://fuzz-hub/a".parse::<HubUrl>().unwrap().to_string(),
            "s3://fuzz-hub/a"
        );
        for bad in [
            "file://srv/hub",
            "file:///srv/../etc",
            "s3://B",
            "s3://ok-bucket/../x",
            "http://x",
            "/srv/hub",
        ] {
            assert!(bad.parse::<HubUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_destinations() {
        let d: SshDest = "fuzz@sg.example:2222".parse().unwrap();
        assert_eq!(
            d,
            SshDest {
                user: Some("fuzz".into()),
                host: "sg.example".into(),
                port: Some(2222)
            }
        );
        assert_eq!(d.destination(), "fuzz@sg.example");
        let d: SshDest = "root@[::1]:22".parse().unwrap();
        assert_eq!(d.host, "::1");
        assert_eq!(d.to_string(), "root@[::1]:22");
        assert_eq!("host".parse::<SshDest>().unwrap().user, None);
        for bad in [
            "-oProxyCommand=x",
            "u@-host",
            "@host",
            "u@host:0",
            "u@host:x",
            "u@::1",
            "u@ho st",
            "",
        ] {
            assert!(bad.parse::<SshDest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn http_urls() {
        assert!("https://10.0.0.5:7878".parse::<HttpUrl>().is_ok());
        assert!("http://hooks.example/x?y".parse::<HttpUrl>().is_ok());
        for bad in ["ftp://x", "https://", "https:///x", "hooks.example"] {
            assert!(bad.parse::<HttpUrl>().is_err(), "{bad}");
        }
    }
}
