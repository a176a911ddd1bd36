//! Side-by-side benchmark of warden against cedar-policy, regorus and a hand-written Rust floor.
//!
//! Run with `cargo run --release -p warden-bench` (add `-- --quick` for fewer samples,
//! `-- --only w1,w3` to pick workloads, `-- --full-cedar` to run cedar at the sizes that are
//! otherwise extrapolated: 10^6 carts in W2, 10,000 policies in W3; that takes many minutes). Progress and every measurement's spread go to stderr;
//! the one markdown table goes to stdout.

mod cedar_side;
mod generate;
mod harness;
mod rego_side;
mod shop;
mod table;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::time::Duration;

use warden::eval::access::Op;
use warden::eval::{Engine, Outcome, PrincipalName, Vars};
use warden::source::{FileId, SourceMap};
use warden::store::{Store, Value};

use harness::{measure, measure_each, once, Config, Stats};
use table::{mb, ratio, time, verdict, Row};

// ---------------------------------------------------------------------------------------------
// A counting allocator for W4: off (one relaxed load per call) except around what is weighed.
// ---------------------------------------------------------------------------------------------

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only a counter is kept beside.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            HELD.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            HELD.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Relaxed) {
            HELD.fetch_sub(layout.size() as isize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Relaxed) {
            HELD.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns what it made with the heap bytes still held when it returns
/// (what it allocated minus what it freed).
fn weigh<R>(f: impl FnOnce() -> R) -> (R, f64) {
    COUNTING.store(true, Relaxed);
    let before = HELD.load(Relaxed);
    let r = f();
    let after = HELD.load(Relaxed);
    COUNTING.store(false, Relaxed);
    (r, (after - before) as f64)
}

// ---------------------------------------------------------------------------------------------
// Options and machine information.
// ---------------------------------------------------------------------------------------------

struct Options {
    quick: bool,
    full_cedar: bool,
    only: Vec<String>,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options { quick: false, full_cedar: false, only: Vec::new() };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--full-cedar" => o.full_cedar = true,
                "--only" => {
                    let list = args.next().unwrap_or_else(|| usage("--only needs a list such as w1,w2"));
                    o.only = list.split(',').map(|s| s.trim().to_ascii_lowercase()).collect();
                }
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown argument `{other}`")),
            }
        }
        for w in &o.only {
            if !["w1", "w2", "w3", "w4", "w5"].contains(&w.as_str()) {
                usage(&format!("unknown workload `{w}`"));
            }
        }
        o
    }

    fn runs(&self, w: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == w)
    }

    /// Settings for fast operations (W1, warden's queries, the floor).
    fn fast(&self) -> Config {
        if self.quick {
            Config { warmup: Duration::from_millis(30), sample_time: Duration::from_millis(5), samples: 7 }
        } else {
            Config { warmup: Duration::from_millis(300), sample_time: Duration::from_millis(20), samples: 21 }
        }
    }

    /// Settings for slow operations (peers over thousands of objects, scans).
    fn slow(&self) -> Config {
        self.fast().with_samples(if self.quick { 3 } else { 7 })
    }

    /// Samples for operations of a second or so (W3, W4 loads).
    fn few(&self) -> usize {
        if self.quick {
            2
        } else {
            5
        }
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("usage: cargo run --release -p warden-bench [-- [--quick] [--only w1,w2,w3,w4,w5] [--full-cedar]]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}

/// A crate's version as locked in the workspace's Cargo.lock.
fn locked_version(name: &str) -> String {
    let lock = include_str!("../../Cargo.lock");
    let key = format!("name = \"{name}\"\nversion = \"");
    lock.find(&key)
        .and_then(|i| lock[i + key.len()..].split('"').next())
        .map(str::to_string)
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_else(|_| "?".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{cores} cores ({cpu}), {}/{}; warden {}, cedar-policy {}, regorus {}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        locked_version("warden"),
        locked_version("cedar-policy"),
        locked_version("regorus"),
    )
}

// ---------------------------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------------------------

/// The clock every engine is given (warden's `now`, cedar's and Rego's `now` in the context/input).
const NOW: i64 = 0;

fn w1(opts: &Options, rows: &mut Vec<Row>) {
    eprintln!("W1: one read decision (5 roles, 20 rules)");
    let cfg = opts.fast();
    let program = shop::program();
    let (engine, total, own, other) = shop::decision_setup(&program);

    let cedar = cedar_side::Shop::new(NOW);
    let entities = cedar.entities([42], [41, 42]);
    let user = cedar_side::uid("User", "42");
    let request = |k: u64| {
        cedar_policy::Request::new(
            user.clone(),
            cedar.read_total.clone(),
            cedar_side::cart_uid(k),
            cedar.context.clone(),
            Some(&cedar.schema),
        )
        .unwrap()
    };
    let (cedar_own, cedar_other) = (request(41), request(42));
    let cedar_allowed = |r: &cedar_policy::Request| {
        cedar.authorizer.is_authorized(r, &cedar.policies, &entities).decision() == cedar_policy::Decision::Allow
    };
    assert!(cedar_allowed(&cedar_own));
    assert!(!cedar_allowed(&cedar_other));
    assert!(cedar.may_read_total(&user, 41, &entities) && !cedar.may_read_total(&user, 42, &entities));

    let mut rego = rego_side::engine();
    let mut vm = rego_side::vm();
    let (rego_own, rego_other) = (rego_side::read_total_input(42, 41, NOW), rego_side::read_total_input(42, 42, NOW));
    assert!(rego_side::allowed(&mut rego, &rego_own));
    assert!(!rego_side::allowed(&mut rego, &rego_other));
    assert!(rego_side::allowed_vm(&mut vm, &rego_own));
    assert!(!rego_side::allowed_vm(&mut vm, &rego_other));

    let plain_user = shop::User { id: 42, name: "user42".into(), roles: shop::CUSTOMER };
    let (_, carts) = shop::plain(2_000);
    let (plain_own, plain_other) = (carts[41], carts[42]);
    assert!(shop::may_read_cart(&plain_user, &plain_own, shop::CartMember::Total, NOW));
    assert!(!shop::may_read_cart(&plain_user, &plain_other, shop::CartMember::Total, NOW));
    assert!(shop::may_read_cart(&plain_user, &plain_own, shop::CartMember::Status, NOW));
    assert_eq!((plain_own.total, plain_user.name.as_str()), (41, "user42"));

    for (case, allow) in [("allow: own cart", true), ("deny: another user's cart", false)] {
        let (o, c, r) = if allow { (&own, &cedar_own, &rego_own) } else { (&other, &cedar_other, &rego_other) };
        let p = if allow { plain_own } else { plain_other };
        let wa = measure(&format!("warden {case}"), &cfg, || engine.allowed(Op::Read(total), black_box(o)));
        let ce = measure(&format!("cedar {case}"), &cfg, || cedar_allowed(black_box(c)));
        let re = measure(&format!("regorus interpreter {case}"), &cfg, || rego_side::allowed(&mut rego, black_box(r)));
        let rv = measure(&format!("regorus rvm {case}"), &cfg, || rego_side::allowed_vm(&mut vm, black_box(r)));
        let fl = measure(&format!("floor {case}"), &cfg, || {
            shop::may_read_cart(black_box(&plain_user), black_box(&p), black_box(shop::CartMember::Total), NOW)
        });
        let best_rego = re.median.min(rv.median);
        rows.push(Row {
            workload: format!("W1 read decision, {case}"),
            warden: time(wa.median),
            cedar: time(ce.median),
            regorus: format!("{} (interp.) / {} (RVM)", time(re.median), time(rv.median)),
            floor: time(fl.median),
            cedar_x: ratio(ce.median / wa.median),
            regorus_x: ratio(best_rego / wa.median),
            floor_x: ratio(wa.median / fl.median),
            goal: "≤ 100 ns and ≥ 30× cedar".into(),
            met: verdict(wa.median <= 100.0 && ce.median / wa.median >= 30.0),
        });
    }
}

/// Per-object figures of a peer measured at `measured_n` objects, for a query over `n`.
struct PerObject {
    per_object: f64,
    measured_n: usize,
}

impl PerObject {
    fn cell(&self, n: usize) -> String {
        let whole = time(self.per_object * n as f64);
        if n == self.measured_n {
            format!("{whole} ({}/obj)", time(self.per_object))
        } else {
            format!("≈{whole} ({}/obj, extrapolated from {})", time(self.per_object), pow10(self.measured_n))
        }
    }
}

fn pow10(n: usize) -> String {
    match n {
        1_000 => "10^3".into(),
        10_000 => "10^4".into(),
        100_000 => "10^5".into(),
        1_000_000 => "10^6".into(),
        _ => n.to_string(),
    }
}

fn w2(opts: &Options, rows: &mut Vec<Row>, cedar_bytes: &mut Option<(f64, f64, usize)>) {
    eprintln!("W2: which carts may user 42 see");
    let cfg = opts.fast();
    let slow = opts.slow();
    let mut program = shop::program();
    // The evaluator runs statements in their checked form.
    let text = "count(retrieve Shop.Cart)";
    let file = program.sources.add("w2 statement", text.to_string());
    let parsed = warden::syntax::parse_statements(text, file).unwrap();
    let checked = warden::check::check_statements(&mut program, &parsed, &Default::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let statements = checked.stmts;
    let program = program;
    let stmt = &statements[0];

    // regorus: one evaluation per cart, the per-object cost measured over 10^4 carts.
    let sample = 10_000usize;
    let inputs: Vec<_> = (0..sample as u64).map(|k| rego_side::read_total_input(42, k, NOW)).collect();
    let mut rego = rego_side::engine();
    let mut vm = rego_side::vm();
    assert_eq!(inputs.iter().filter(|i| rego_side::allowed(&mut rego, i)).count(), sample / 1000);
    assert_eq!(inputs.iter().filter(|i| rego_side::allowed_vm(&mut vm, i)).count(), sample / 1000);
    let ri = measure("regorus interpreter, 10^4 carts", &slow, || {
        inputs.iter().filter(|i| rego_side::allowed(&mut rego, i)).count()
    });
    let rv = measure("regorus rvm, 10^4 carts", &slow, || {
        inputs.iter().filter(|i| rego_side::allowed_vm(&mut vm, i)).count()
    });
    let (best, engine_name) = if rv.median < ri.median { (rv, "RVM") } else { (ri, "interp.") };
    let rego_per = PerObject { per_object: best.median / sample as f64, measured_n: sample };
    eprintln!("  (the regorus column uses the {engine_name})");
    drop((rego, vm, inputs));

    // cedar: one `is_authorized` per cart over an Entities holding all carts, up to 10^5.
    let cedar = cedar_side::Shop::new(NOW);
    let user = cedar_side::uid("User", "42");
    let cedar_max = 100_000usize;
    let mut cedar_per: Option<PerObject> = None;

    for n in [10_000usize, 100_000, 1_000_000] {
        let label = pow10(n);
        let expected = n / 1000;
        let mut engine = Engine::new(&program, Box::new(shop::store(&program, n)), NOW);
        engine.act_as(&PrincipalName::User("user42".into())).unwrap();
        let mut vars = Vars::new();
        let want = Outcome::Value(Value::Integer(expected as i64));
        assert_eq!(engine.run_top(stmt, &mut vars).unwrap(), want);
        let wa = measure(&format!("warden, {label} carts"), &cfg, || engine.run_top(stmt, &mut vars).unwrap());
        engine.set_plan(warden::eval::Plan::Scan);
        assert_eq!(engine.run_top(stmt, &mut vars).unwrap(), want);
        let ws = measure(&format!("warden scanning (no index), {label} carts"), &cfg, || {
            engine.run_top(stmt, &mut vars).unwrap()
        });
        drop(engine);

        let (_, carts) = shop::plain(n);
        let scan = |carts: &[shop::Cart]| carts.iter().filter(|c| c.owner == 42).count();
        assert_eq!(scan(&carts), expected);
        let fl = measure(&format!("floor, {label} carts"), &cfg, || scan(black_box(&carts)));
        // The like-for-like floor of an indexed query: a hand-built index from owner to carts.
        let mut by_owner: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
        for (k, c) in carts.iter().enumerate() {
            by_owner.entry(c.owner).or_default().push(k as u32);
        }
        let indexed = |owner: u32| by_owner.get(&owner).map_or(0, Vec::len);
        assert_eq!(indexed(42), expected);
        let fi = measure(&format!("floor (hand-written index), {label} carts"), &cfg, || indexed(black_box(42)));
        drop((carts, by_owner));

        if n <= cedar_max || opts.full_cedar {
            let (entities, bytes) = weigh(|| once(|| cedar.entities(cedar_side::all_users(), 0..n as u64)));
            let (entities, build_ns) = entities;
            eprintln!("  cedar Entities of {label} carts: built in {}, {}", time(build_ns), mb(bytes));
            *cedar_bytes = Some((bytes, build_ns, n));
            let count = || (0..n as u64).filter(|&k| cedar.may_read_total(&user, k, &entities)).count();
            let st = if n <= cedar_max {
                assert_eq!(count(), expected);
                measure(&format!("cedar, {label} carts"), &slow, count)
            } else {
                // --full-cedar: one timed pass, which is also the check.
                let (c, ns) = once(count);
                assert_eq!(c, expected);
                eprintln!("  cedar, {label} carts (once)                  {}", time(ns));
                Stats { median: ns, min: ns, max: ns }
            };
            cedar_per = Some(PerObject { per_object: st.median / n as f64, measured_n: n });
        }
        let ce = cedar_per.as_ref().unwrap();

        let per = |s: &Stats| s.median / n as f64;
        let cedar_x = ce.per_object / per(&wa);
        let fast_enough = n < 1_000_000 || wa.median < 1e6;
        rows.push(Row {
            workload: format!("W2 which carts may user 42 see, {label} carts (indexed)"),
            warden: format!("{} ({}/obj)", time(wa.median), time(per(&wa))),
            cedar: ce.cell(n),
            regorus: format!("{} [{engine_name}]", rego_per.cell(n)),
            floor: format!("{} ({}/obj); hand-written index {}", time(fl.median), time(per(&fl)), time(fi.median)),
            cedar_x: ratio(cedar_x),
            regorus_x: ratio(rego_per.per_object / per(&wa)),
            floor_x: format!("{} (÷ index: {})", ratio(wa.median / fl.median), ratio(wa.median / fi.median)),
            goal: if n == 1_000_000 { "≥ 500× cedar per object; < 1 ms" } else { "≥ 500× cedar per object" }.into(),
            met: verdict(cedar_x >= 500.0 && fast_enough),
        });
        rows.push(Row {
            workload: format!("W2 same, {label} carts, warden scanning (column scan, index off)"),
            warden: format!("{} ({}/obj)", time(ws.median), time(per(&ws))),
            floor: format!("{} ({}/obj)", time(fl.median), time(per(&fl))),
            cedar_x: ratio(ce.per_object / per(&ws)),
            regorus_x: ratio(rego_per.per_object / per(&ws)),
            floor_x: ratio(ws.median / fl.median),
            goal: "≤ 3× floor when scanning".into(),
            met: verdict(ws.median / fl.median <= 3.0),
            ..Row::default()
        });
    }
}

/// Cedar's side of W3 for `entities` entities: the schema text, its parse, and a closure that
/// parses and validates the policies (returning how many and whether they passed cleanly).
struct CedarW3 {
    schema: cedar_policy::Schema,
    schema_text: String,
    policies: String,
}

impl CedarW3 {
    fn new(entities: usize) -> CedarW3 {
        let (schema_text, policies) = generate::generate_cedar(entities, 10);
        let schema = Self::parse_schema(&schema_text);
        CedarW3 { schema, schema_text, policies }
    }

    fn parse_schema(text: &str) -> cedar_policy::Schema {
        cedar_policy::Schema::from_cedarschema_str(text).unwrap_or_else(|e| panic!("{e:?}")).0
    }

    /// `PolicySet::from_str` and strict validation: (policies, passed without warnings).
    fn check(&self) -> (usize, bool) {
        let policies: cedar_policy::PolicySet = self.policies.parse().unwrap_or_else(|e| panic!("{e:?}"));
        let result =
            cedar_policy::Validator::new(self.schema.clone()).validate(&policies, cedar_policy::ValidationMode::Strict);
        (policies.policies().count(), result.validation_passed_without_warnings())
    }

    /// Checks once, asserting the outcome.
    fn assert_clean(&self, rules: usize) {
        let (count, passed) = self.check();
        assert_eq!(count, rules);
        assert!(passed, "cedar: the generated policies must validate");
    }
}

fn w3(opts: &Options, rows: &mut Vec<Row>) {
    eprintln!("W3: parse and check generated rules");
    let mut warden_figures = Vec::new();
    for (entities, rules) in [(100usize, 1_000usize), (1_000, 10_000)] {
        let text = generate::generate(entities, 10);
        let mut sources = SourceMap::new();
        sources.add("generated.rules", text);
        let checked = warden::load::load(sources.clone());
        assert!(checked.diagnostics.is_empty(), "the generated program must be clean");
        assert_eq!(checked.program.access_rules.len(), rules);
        drop(checked);
        let wa =
            measure_each(&format!("warden load, {rules} rules"), opts.few(), || warden::load::load(sources.clone()));
        // Of which parsing (pest and lowering to the AST), the rest being the checks.
        let text = generate::generate(entities, 10);
        let parse = measure_each(&format!("warden parse only, {rules} rules"), opts.few(), || {
            warden::syntax::parse_file(&text, FileId(0)).unwrap()
        });
        warden_figures.push((wa, parse));
    }

    // Cedar's validator typechecks every policy in every request environment of the schema
    // (action x principal type x resource type); both grow tenfold from 1,000 to 10,000 rules,
    // so the 10,000 figure is the 1,000 one times 100 unless `--full-cedar` asks for the real
    // thing (one run of about 9 minutes here: 547 s, a little over the x100 estimate).
    let small = CedarW3::new(100);
    small.assert_clean(1_000);
    let c1k = measure_each("cedar parse + validate, 1000 policies", opts.few(), || small.check());
    let s1k =
        measure_each("cedar schema parse, 100 entity types", opts.few(), || CedarW3::parse_schema(&small.schema_text));
    drop(small);
    let big = CedarW3::new(1_000);
    let s10k =
        measure_each("cedar schema parse, 1000 entity types", opts.few(), || CedarW3::parse_schema(&big.schema_text));
    let (c10k, how) = if opts.full_cedar {
        let ((count, passed), ns) = once(|| big.check());
        assert_eq!(count, 10_000);
        assert!(passed, "cedar: the generated policies must validate");
        eprintln!("  cedar parse + validate, 10000 policies (once)   {}", time(ns));
        (ns, "measured once".to_string())
    } else {
        let ns = c1k.median * 100.0;
        eprintln!("  cedar parse + validate, 10000 policies: ≈{} (extrapolated, x100)", time(ns));
        (ns, "extrapolated: 10^3 figure ×100".to_string())
    };
    drop(big);

    for ((entities, rules), ((wa, parse), (check, schema, how))) in [(100usize, 1_000usize), (1_000, 10_000)]
        .into_iter()
        .zip(warden_figures.iter().zip([(c1k.median, s1k.median, String::new()), (c10k, s10k.median, how)]))
    {
        let total = check + schema;
        let prefix = if how.starts_with("extrapolated") { "≈" } else { "" };
        let note = if how.is_empty() { String::new() } else { format!(", {how}") };
        rows.push(Row {
            workload: format!("W3 parse + check {rules} rules ({entities} entities)"),
            warden: format!("{} (parsing {})", time(wa.median), time(parse.median)),
            cedar: format!("{prefix}{} ({} policies{note} + {} schema)", time(total), time(check), time(schema)),
            cedar_x: ratio(total / wa.median),
            goal: if rules == 10_000 { "< 100 ms" } else { "" }.into(),
            met: if rules == 10_000 { verdict(wa.median < 100e6) } else { String::new() },
            ..Row::default()
        });
    }
}

fn w4(opts: &Options, rows: &mut Vec<Row>, cedar_bytes: Option<(f64, f64, usize)>) {
    eprintln!("W4: a store of 10^6 carts");
    let n = 1_000_000usize;
    let program = shop::program();
    let (store, warden_bytes) = weigh(|| shop::store(&program, n));
    let ((users, carts), plain_bytes) = weigh(|| shop::plain(n));
    assert_eq!(store.all().len(), n + shop::USERS as usize);
    assert_eq!((users.len(), carts.len()), (shop::USERS as usize, n));
    assert_eq!((users[41].name.as_str(), carts[41].total), ("user42", 41));
    drop((users, carts));
    eprintln!("  warden MemoryStore {}, plain structs {}", mb(warden_bytes), mb(plain_bytes));
    let cart = program.entity(program.entity_by_name("Shop.Cart").unwrap());
    eprintln!(
        "  (warden keeps Cart's {} members in columns: a word per member and cart, kept in 1, 4 or 8 bytes as \
         the values allow, none for a member that holds the same value in every cart, plus the id, its place and the owner index; a plain Cart is {} bytes)",
        cart.members.len(),
        std::mem::size_of::<shop::Cart>()
    );

    // cedar: weighed (and timed) while W2 built its Entities of 10^5 carts, or now.
    let (cedar_bytes, cedar_build_ns, cedar_n) = cedar_bytes.unwrap_or_else(|| {
        let cedar = cedar_side::Shop::new(NOW);
        let m = 100_000;
        let ((entities, ns), bytes) = weigh(|| once(|| cedar.entities(cedar_side::all_users(), 0..m as u64)));
        drop(entities);
        (bytes, ns, m)
    });
    let scale = n as f64 / cedar_n as f64;
    let extrapolated = if cedar_n == n { String::new() } else { format!(", ×{scale} from {}", pow10(cedar_n)) };
    let mem_x = warden_bytes / plain_bytes;
    rows.push(Row {
        workload: "W4 heap held by 1,000 users + 10^6 carts".into(),
        warden: mb(warden_bytes),
        cedar: format!("≈{} (Entities{extrapolated})", mb(cedar_bytes * scale)),
        floor: format!("{} (Vec of structs)", mb(plain_bytes)),
        cedar_x: ratio(cedar_bytes * scale / warden_bytes),
        floor_x: ratio(mem_x),
        goal: "≤ 2× plain structs".into(),
        met: verdict(mem_x <= 2.0),
        ..Row::default()
    });

    // The same carts with a Status and a createdDate of their own (no member the same in every cart).
    let (varied, varied_bytes) = weigh(|| shop::store_varied(&program, n));
    let ((users, carts), plain_varied_bytes) = weigh(|| shop::plain_varied(n));
    let (created, status) = (cart.member("createdDate").unwrap(), cart.member("Status").unwrap());
    for k in [0u64, 1, 2, 41, 999_999] {
        let id = warden::store::ObjectId(1001 + k);
        let c = &carts[k as usize];
        assert_eq!(varied.value(id, created), Some(Value::DateTime(c.created)));
        assert!(matches!(varied.value(id, status), Some(Value::Enum(_, s)) if s == u32::from(c.status)));
    }
    assert_eq!(varied.all().len(), users.len() + carts.len());
    drop((users, carts, varied));
    eprintln!("  varied: warden MemoryStore {}, plain structs {}", mb(varied_bytes), mb(plain_varied_bytes));
    let varied_x = varied_bytes / plain_varied_bytes;
    rows.push(Row {
        workload: "W4 heap held, varied `Status` and `createdDate` (every cart its own)".into(),
        warden: mb(varied_bytes),
        floor: format!("{} (Vec of structs, same data)", mb(plain_varied_bytes)),
        floor_x: ratio(varied_x),
        goal: "≤ 2× plain structs".into(),
        met: verdict(varied_x <= 2.0),
        ..Row::default()
    });

    let put = measure_each("warden build 10^6 carts with put", opts.few(), || shop::store(&program, n));
    let fl = measure_each("floor build Vec of 10^6 structs", opts.few(), || shop::plain(n));
    rows.push(Row {
        workload: "W4 load 10^6 carts (+1,000 users) in memory".into(),
        warden: format!("{} (`put`)", time(put.median)),
        cedar: format!("≈{} (`Entities::from_entities`{extrapolated})", time(cedar_build_ns * scale)),
        floor: time(fl.median),
        cedar_x: ratio(cedar_build_ns * scale / put.median),
        floor_x: ratio(put.median / fl.median),
        goal: "< 1 s".into(),
        met: verdict(put.median < 1e9),
        ..Row::default()
    });

    let path = std::env::temp_dir().join(format!("warden-bench-{}.json", std::process::id()));
    warden::store::save_json(&program, &store, &path).unwrap();
    drop(store);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let loaded = warden::store::load_json(&program, &text).unwrap_or_else(|e| panic!("{:?}", &e[..e.len().min(3)]));
    assert_eq!(loaded.all().len(), n + shop::USERS as usize);
    drop(loaded);
    let js = measure_each("warden load_json 10^6 carts", opts.few(), || warden::store::load_json(&program, &text));
    rows.push(Row {
        workload: format!("W4 load 10^6 carts from JSON ({})", mb(text.len() as f64)),
        warden: format!("{} (`load_json`)", time(js.median)),
        goal: "< 1 s".into(),
        met: verdict(js.median < 1e9),
        ..Row::default()
    });
}

/// W5's program: lines reach their cart's owner through an association; clerks see open carts.
const W5_PROGRAM: &str = r#"
module P {
  enumeration Status { Open, CheckedOut }
  entity Cart {
    stores owner
    Status: Status = Open
  }
  entity Line { Qty: Integer = 1 }
  association Line_Cart: Line -> Cart
  module role Buyer
  module role Clerk
  access Cart for Buyer { read Status where [System.owner = '[%CurrentUser%]'] }
  access Line for Buyer { read Qty where [P.Line_Cart/P.Cart/System.owner = '[%CurrentUser%]'] }
  access Cart for Clerk { read Status where [Status = 'Open'] }
}
user role B: P.Buyer
user role C: P.Clerk
"#;

/// W5's data: 1,000 users (user 1 a Clerk, the rest Buyers), `n` carts owned round-robin, 1% of
/// them checked out (every hundredth), and one line per cart. Ids: users 1..=1000, cart `k` is
/// `1001 + k`, its line `1001 + n + k`.
fn w5_store(program: &warden::model::Program, n: usize) -> warden::store::MemoryStore {
    use warden::store::{Object, ObjectId};
    let mut s = warden::store::MemoryStore::new();
    let user = program.entity_by_name("System.User").unwrap();
    let (cart, line) = (program.entity_by_name("P.Cart").unwrap(), program.entity_by_name("P.Line").unwrap());
    let (b, c) = (program.user_role_by_name("B").unwrap(), program.user_role_by_name("C").unwrap());
    let u = program.entity(user);
    let (name, roles) = (u.member("Name").unwrap(), u.member("System.UserRoles").unwrap());
    for i in 1..=1000u64 {
        let mut o = Object::new(program, ObjectId(i), user);
        o.values[name] = Value::String(format!("user{i}"));
        o.values[roles] = Value::List(vec![ObjectId::of_role(if i == 1 { c } else { b })]);
        s.put(o);
    }
    let (owner, status) =
        (program.entity(cart).member("System.owner").unwrap(), program.entity(cart).member("Status").unwrap());
    let checked_out = Value::Enum(program.enum_by_name("P.Status").unwrap(), 1);
    for k in 0..n as u64 {
        let mut o = Object::new(program, ObjectId(1001 + k), cart);
        o.values[owner] = Value::Object(ObjectId(1 + k % 1000));
        if k % 100 == 0 {
            o.values[status] = checked_out.clone();
        }
        s.put(o);
    }
    let (to_cart, qty) =
        (program.entity(line).member("P.Line_Cart").unwrap(), program.entity(line).member("Qty").unwrap());
    for k in 0..n as u64 {
        let mut o = Object::new(program, ObjectId(1001 + n as u64 + k), line);
        o.values[to_cart] = Value::Object(ObjectId(1001 + k));
        o.values[qty] = Value::Integer((k % 10) as i64);
        s.put(o);
    }
    s
}

/// W5: the shapes of issue 19 at 10^6 carts and 10^6 lines, each next to a hand-written floor
/// measured in the same run: a rule through an association (floor: a join over hand-built
/// indexes), a large answer and its count (floor: a scan of a byte column), and one decision
/// including the fetch of the object.
fn w5(opts: &Options, rows: &mut Vec<Row>) {
    eprintln!("W5: plans (path rule, large answer, decision with fetch)");
    let cfg = opts.fast();
    let slow = opts.slow();
    let n = 1_000_000usize;
    let mut sources = SourceMap::new();
    sources.add("w5.rules", W5_PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let mut program = checked.program;
    let parse = |program: &mut warden::model::Program, text: &str| {
        let file = program.sources.add("w5 statements", text.to_string());
        let stmts = warden::syntax::parse_statements(text, file).unwrap();
        let checked = warden::check::check_statements(program, &stmts, &Default::default());
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        checked.stmts.into_iter().next().unwrap()
    };
    let path_count = parse(&mut program, "count(retrieve P.Line)");
    let open_list = parse(&mut program, "retrieve P.Cart [Status = 'Open']");
    let open_count = parse(&mut program, "count(retrieve P.Cart [Status = 'Open'])");
    let mut engine = Engine::new(&program, Box::new(w5_store(&program, n)), NOW);
    let mut vars = Vars::new();

    // The hand-written floor: plain columns and the two indexes a join needs.
    let owners: Vec<u32> = (0..n as u64).map(|k| (1 + k % 1000) as u32).collect();
    let statuses: Vec<u8> = (0..n).map(|k| u8::from(k % 100 == 0)).collect();
    let mut carts_of: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for (k, o) in owners.iter().enumerate() {
        carts_of.entry(*o).or_default().push(k as u32);
    }
    let lines_of: Vec<Vec<u32>> = (0..n as u32).map(|k| vec![k]).collect();

    // A rule through an association: user 42's lines (0.1% of them).
    engine.act_as(&PrincipalName::User("user42".into())).unwrap();
    let want = Outcome::Value(Value::Integer((n / 1000) as i64));
    assert_eq!(engine.run_top(&path_count, &mut vars).unwrap(), want);
    let wa = measure("warden path rule, 10^6 lines", &cfg, || engine.run_top(&path_count, &mut vars).unwrap());
    let join = |user: u32| -> usize {
        carts_of.get(&user).map_or(0, |carts| carts.iter().map(|c| lines_of[*c as usize].len()).sum())
    };
    assert_eq!(join(42), n / 1000);
    let fl = measure("hand-written index join, 10^6 lines", &cfg, || join(black_box(42)));
    rows.push(Row {
        workload:
            "W5 path rule `[P.Line_Cart/P.Cart/System.owner = '[%CurrentUser%]']`, user 42's lines of 10^6 (0.1%)"
                .into(),
        warden: format!("{} ({}/result)", time(wa.median), time(wa.median / (n / 1000) as f64)),
        floor: format!("{} (index join)", time(fl.median)),
        floor_x: ratio(wa.median / fl.median),
        goal: "≤ 1 ms".into(),
        met: verdict(wa.median <= 1e6),
        ..Row::default()
    });

    // A large answer: the open carts (99%), as a Clerk whose rule is `[Status = 'Open']`.
    engine.act_as(&PrincipalName::User("user1".into())).unwrap();
    let open = n - n / 100;
    assert_eq!(engine.run_top(&open_count, &mut vars).unwrap(), Outcome::Value(Value::Integer(open as i64)));
    let wl = measure("warden retrieve [Status = 'Open'], 10^6 carts", &slow, || {
        engine.run_top(&open_list, &mut vars).unwrap()
    });
    let wc = measure("warden count(retrieve [Status = 'Open']), 10^6 carts", &slow, || {
        engine.run_top(&open_count, &mut vars).unwrap()
    });
    let scan = |s: &[u8]| -> Vec<u32> { (0..s.len() as u32).filter(|k| s[*k as usize] == 0).collect() };
    let count = |s: &[u8]| s.iter().filter(|v| **v == 0).count();
    assert_eq!(scan(&statuses).len(), open);
    assert_eq!(count(&statuses), open);
    let fs = measure("floor: byte column scan into a Vec, 10^6", &slow, || scan(black_box(&statuses)));
    let fc = measure("floor: byte column count, 10^6", &slow, || count(black_box(&statuses)));
    rows.push(Row {
        workload: "W5 large answer `retrieve P.Cart [Status = 'Open']` as a Clerk, 10^6 carts (99%)".into(),
        warden: format!("{} ({}/result)", time(wl.median), time(wl.median / open as f64)),
        floor: format!("{} (byte column scan)", time(fs.median)),
        floor_x: ratio(wl.median / fs.median),
        goal: "≤ 30 ms".into(),
        met: verdict(wl.median <= 30e6),
        ..Row::default()
    });
    rows.push(Row {
        workload: "W5 its count, `count(retrieve P.Cart [Status = 'Open'])`".into(),
        warden: time(wc.median),
        floor: format!("{} (byte column count)", time(fc.median)),
        floor_x: ratio(wc.median / fc.median),
        goal: "≤ 2 ms".into(),
        met: verdict(wc.median <= 2e6),
        ..Row::default()
    });
    drop(engine);

    // One decision including the fetch: W1's setting, the object named by id.
    let shop_program = shop::program();
    let (engine, total, own, other) = shop::decision_setup(&shop_program);
    let (own, other) = (own.id, other.id);
    assert!(engine.allowed_id(Op::Read(total), own) && !engine.allowed_id(Op::Read(total), other));
    let (_, carts) = shop::plain(2_000);
    let plain_user = shop::User { id: 42, name: "user42".into(), roles: shop::CUSTOMER };
    for (case, id, k) in [("allow", own, 41usize), ("deny", other, 42)] {
        let wf = measure(&format!("warden decision by id, {case}"), &cfg, || {
            engine.allowed_id(Op::Read(total), black_box(id))
        });
        let wg = measure(&format!("warden store.get then decision, {case}"), &cfg, || {
            let o = engine.store().get(black_box(id)).unwrap();
            engine.allowed(Op::Read(total), &o)
        });
        let fl = measure(&format!("floor fetch + decision, {case}"), &cfg, || {
            let c = &black_box(&carts)[black_box(k)];
            shop::may_read_cart(&plain_user, c, shop::CartMember::Total, NOW)
        });
        rows.push(Row {
            workload: format!(
                "W5 W1 including the fetch ({case}): `allowed_id` from columns (`store.get` + `allowed`: {})",
                time(wg.median)
            ),
            warden: time(wf.median),
            floor: time(fl.median),
            floor_x: ratio(wf.median / fl.median),
            goal: "≤ 50 ns".into(),
            met: verdict(wf.median <= 50.0),
            ..Row::default()
        });
    }
}

fn main() {
    let opts = Options::parse();
    let info = machine();
    eprintln!("{info}{}", if opts.quick { " (quick)" } else { "" });
    let mut rows = Vec::new();
    let mut cedar_bytes = None;
    if opts.runs("w1") {
        w1(&opts, &mut rows);
    }
    if opts.runs("w2") {
        w2(&opts, &mut rows, &mut cedar_bytes);
    }
    if opts.runs("w3") {
        w3(&opts, &mut rows);
    }
    if opts.runs("w4") {
        w4(&opts, &mut rows, cedar_bytes);
    }
    if opts.runs("w5") {
        w5(&opts, &mut rows);
    }
    println!("Machine: {info}{}\n", if opts.quick { " — quick run (fewer samples)" } else { "" });
    table::print(&rows);
    println!(
        "\nMedians of timed batches (std::time::Instant) after a warm-up; all figures from this one run. \
         Ratios over 1× mean warden is faster (or smaller), except warden ÷ floor."
    );
}
