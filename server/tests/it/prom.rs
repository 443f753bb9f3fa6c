//! A parser for the Prometheus text exposition format (version 0.0.4),
//! strict enough to catch a malformed scrape: every sample belongs to a
//! family declared by `# TYPE`, names and labels are well formed, values
//! are numbers, histogram buckets are cumulative and end at `+Inf` equal
//! to `_count`.

use std::collections::BTreeMap;

/// Label names and values, in order.
pub type Labels = Vec<(String, String)>;

/// A histogram series: (le, cumulative count) buckets and `_count`.
type Series = (Vec<(f64, f64)>, Option<f64>);

#[derive(Debug, Clone)]
pub struct Family {
    pub kind: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    /// The family it belongs to.
    pub family: String,
    /// The sample's own name (`family`, or `family_bucket` ... for
    /// histograms).
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Scrape {
    pub families: BTreeMap<String, Family>,
    pub samples: Vec<Sample>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        t => t.parse().map_err(|_| format!("bad value {t:?}")),
    }
}

/// Parses `{a="x",b="y"}`; returns the labels and the rest of the line.
fn parse_labels(text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = text.strip_prefix('{').ok_or("expected {")?;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = rest[..eq].trim();
        if !valid_name(name) || name.contains(':') {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        rest = &rest[end + 1..];
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("expected , or }".into());
        }
    }
}

/// The family a sample named `name` belongs to.
fn family_of<'a>(families: &'a BTreeMap<String, Family>, name: &str) -> Option<&'a str> {
    if let Some((k, _)) = families.get_key_value(name) {
        return Some(k.as_str());
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some((k, f)) = families.get_key_value(base)
            && f.kind == "histogram"
        {
            return Some(k.as_str());
        }
    }
    None
}

pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !valid_name(name) {
                        return Err(at("bad metric name".into()));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("unknown type {kind}")));
                    }
                    if scrape.samples.iter().any(|s| s.family == name) {
                        return Err(at("TYPE after the family's samples".into()));
                    }
                    let help = scrape.families.get(name).and_then(|f| f.help.clone());
                    scrape.families.insert(name.to_owned(), Family { kind: kind.to_owned(), help });
                }
                (Some("HELP"), Some(name), help) => {
                    let entry =
                        scrape.families.entry(name.to_owned()).or_insert(Family { kind: "untyped".into(), help: None });
                    entry.help = Some(help.unwrap_or_default().to_owned());
                }
                _ => {}
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(at("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing text".into()));
        }
        let family = family_of(&scrape.families, name).ok_or_else(|| at("sample of an undeclared family".into()))?;
        scrape.samples.push(Sample { family: family.to_owned(), name: name.to_owned(), labels, value });
    }
    check_histograms(&scrape)?;
    Ok(scrape)
}

/// Buckets are cumulative, end with `+Inf`, and `+Inf` equals `_count`.
fn check_histograms(scrape: &Scrape) -> Result<(), String> {
    for name in scrape.families.iter().filter(|(_, f)| f.kind == "histogram").map(|(n, _)| n) {
        // Group by the labels other than `le`.
        let mut series: BTreeMap<Labels, Series> = BTreeMap::new();
        for s in scrape.samples.iter().filter(|s| &s.family == name) {
            let key: Vec<_> = s.labels.iter().filter(|(k, _)| k != "le").cloned().collect();
            let entry = series.entry(key).or_default();
            if s.name.ends_with("_bucket") {
                let le = s.labels.iter().find(|(k, _)| k == "le").ok_or(format!("{name}: bucket without le"))?;
                entry.0.push((parse_value(&le.1)?, s.value));
            } else if s.name.ends_with("_count") {
                entry.1 = Some(s.value);
            }
        }
        for (labels, (buckets, count)) in series {
            let last = buckets.last().ok_or(format!("{name}{labels:?}: no buckets"))?;
            if last.0 != f64::INFINITY || Some(last.1) != count {
                return Err(format!("{name}{labels:?}: +Inf bucket {last:?} vs count {count:?}"));
            }
            if buckets.windows(2).any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1) {
                return Err(format!("{name}{labels:?}: buckets not cumulative: {buckets:?}"));
            }
        }
    }
    Ok(())
}

/// The INFO key of a sample, with `.` and `_` made equal (both sides are
/// compared after [`normalize`]): `jubilant_` dropped, `_total` dropped from
/// counters, then each label value (but `le`) appended, then for histograms
/// `_bucket_<le>`, `_sum` or `_count`.
pub fn info_key(scrape: &Scrape, sample: &Sample) -> String {
    let family = &scrape.families[&sample.family];
    let mut base = sample.family.strip_prefix("jubilant_").unwrap_or(&sample.family).to_owned();
    if family.kind == "counter" {
        base = base.strip_suffix("_total").unwrap_or(&base).to_owned();
    }
    for (k, v) in &sample.labels {
        if k != "le" {
            base.push('_');
            base.push_str(v);
        }
    }
    let suffix = sample.name.strip_prefix(&sample.family).unwrap_or("");
    match suffix {
        "_bucket" => {
            let le = &sample.labels.iter().find(|(k, _)| k == "le").unwrap().1;
            let le = if le == "+Inf" { le.clone() } else { format!("{}", le.parse::<f64>().unwrap()) };
            format!("{base}_bucket_{}", normalize(&le))
        }
        "" => base,
        other => format!("{base}{other}"),
    }
}

/// `.` → `_`.
pub fn normalize(key: &str) -> String {
    key.replace('.', "_")
}

#[test]
fn the_parser_rejects_malformed_scrapes() {
    assert!(parse("# TYPE a counter\na_total 1\n").is_err(), "a sample of an undeclared family");
    assert!(parse("# TYPE a counter\na{x=\"1} 1\n").is_err());
    assert!(parse("# TYPE a gauge\na one\n").is_err());
    assert!(parse("# TYPE 1a gauge\n").is_err());
    let h = "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n";
    assert!(parse(h).is_err(), "buckets must be cumulative");
    let s = parse("# HELP a The a.\n# TYPE a gauge\na{x=\"q\\\"uote\"} 1.5 1700000000\n").unwrap();
    assert_eq!(s.samples[0].labels[0].1, "q\"uote");
    assert_eq!(s.families["a"].help.as_deref(), Some("The a."));
}
