//! The one markdown table the benchmark prints, and number formatting.

/// Column titles.
pub const HEADER: [&str; 10] = [
    "Workload",
    "warden",
    "cedar",
    "regorus",
    "floor (plain Rust)",
    "cedar ÷ warden",
    "regorus ÷ warden",
    "warden ÷ floor",
    "goal",
    "met",
];

/// One line of the table, cells in [`HEADER`] order.
#[derive(Clone, Debug, Default)]
pub struct Row {
    /// What was measured.
    pub workload: String,
    /// warden's figure.
    pub warden: String,
    /// cedar's figure.
    pub cedar: String,
    /// regorus' figure.
    pub regorus: String,
    /// The hand-written floor.
    pub floor: String,
    /// How many times faster warden is than cedar.
    pub cedar_x: String,
    /// How many times faster warden is than regorus.
    pub regorus_x: String,
    /// How many times slower warden is than the floor.
    pub floor_x: String,
    /// The goal for this line.
    pub goal: String,
    /// Whether the measured figures meet it.
    pub met: String,
}

/// Prints the table on stdout.
pub fn print(rows: &[Row]) {
    println!("| {} |", HEADER.join(" | "));
    println!("|{}", HEADER.iter().map(|_| "---|").collect::<String>());
    for r in rows {
        let cells = [
            &r.workload,
            &r.warden,
            &r.cedar,
            &r.regorus,
            &r.floor,
            &r.cedar_x,
            &r.regorus_x,
            &r.floor_x,
            &r.goal,
            &r.met,
        ];
        let cells: Vec<&str> = cells.iter().map(|c| if c.is_empty() { "—" } else { c.as_str() }).collect();
        println!("| {} |", cells.join(" | "));
    }
}

/// A duration given in nanoseconds, with three significant digits and a fitting unit.
pub fn time(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", sig3(v))
}

/// A ratio such as `1,250×`, `37×` or `0.42×`.
pub fn ratio(x: f64) -> String {
    format!("{}×", sig3(x))
}

/// Bytes as MB (10^6 bytes).
pub fn mb(bytes: f64) -> String {
    format!("{} MB", sig3(bytes / 1e6))
}

/// Three significant digits, thousands separated, no exponent.
pub fn sig3(v: f64) -> String {
    if v >= 100.0 {
        thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `met` / `NOT met`.
pub fn verdict(ok: bool) -> String {
    if ok { "met" } else { "**not met**" }.to_string()
}
