//! `Path::parse`: whatever parses re-serialises and re-parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pochta_agent::smtp::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else { return };
    let Ok(args) = std::str::from_utf8(rest) else { return };
    let kw = if k & 1 == 0 { "FROM" } else { "TO" };
    let Ok(p) = Path::parse(args, kw) else { return };
    let text = serialise(&p, kw);
    let again = Path::parse(&text, kw).unwrap_or_else(|e| panic!("{text:?} from {args:?}: {e:?}"));
    assert_eq!(again, p, "{text:?} from {args:?}");
});

fn serialise(p: &Path, kw: &str) -> String {
    let mut s = format!("{kw}:<{}{}>", if p.source_route { "@relay.example:" } else { "" }, p.mailbox);
    for (k, v) in &p.params {
        s.push(' ');
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}
