//! W3's generated programs: warden's generator (shared with `benches/check.rs`), and the same
//! entities and rules written as a Cedar schema and policies.

#[path = "../../benches/fixtures/generate.rs"]
mod fixture;

pub use fixture::generate;

/// The same program for Cedar: a schema (a namespace per module, an entity type per entity, the
/// association as an optional attribute, and per entity member-level actions with `"read E<n>"`
/// grouping the reads for `read *`, as in the W1 shop) and one `permit` per rule.
///
/// Actions are per entity because an action that applies to every entity type of a module makes
/// Cedar's validator typecheck each policy once per resource type (about 4 s for 1,000 policies).
pub fn generate_cedar(entities: usize, rules_per_entity: usize) -> (String, String) {
    let modules = 10;
    let mut schema = String::new();
    let roles: Vec<String> = (0..modules).map(|m| format!("M{m}::Role")).collect();
    schema.push_str(&format!("entity User in [{}] {{ name: String }};\n", roles.join(", ")));
    let mut policies = String::new();
    for m in 0..modules {
        schema.push_str(&format!("namespace M{m} {{\n  entity Role;\n  type Ctx = {{ now: Long }};\n"));
        for e in (m..entities).step_by(modules) {
            let parent = if e >= modules { format!(", E{e}_Parent?: E{}", e - modules) } else { String::new() };
            schema.push_str(&format!(
                "  entity E{e} {{ owner: User, createdDate: Long, Name: String, Amount: decimal, State: String{parent} }};\n"
            ));
            let on = format!("appliesTo {{ principal: User, resource: E{e}, context: Ctx }}");
            schema.push_str(&format!(
                "  action \"read E{e}\";\n  action \"read E{e}.Name\", \"read E{e}.Amount\", \"read E{e}.State\", \
                 \"read E{e}.createdDate\", \"read E{e}.owner\" in [\"read E{e}\"] {on};\n  action \"create E{e}\", \
                 \"delete E{e}\", \"write E{e}.Name\", \"write E{e}.Amount\", \"write E{e}.State\" {on};\n"
            ));
            let act = |names: &[&str]| {
                let list: Vec<String> = names.iter().map(|n| format!("M{m}::Action::\"{n}\"")).collect();
                format!("action in [{}]", list.join(", "))
            };
            let (name, amount, state) = (format!("E{e}.Name"), format!("E{e}.Amount"), format!("E{e}.State"));
            for k in 0..rules_per_entity {
                let role = format!("M{m}::Role::\"R{}\"", k % 5);
                let (action, when) = match k % 5 {
                    0 => (
                        act(&[
                            &format!("create E{e}"),
                            &format!("delete E{e}"),
                            &format!("write {name}"),
                            &format!("write {amount}"),
                            &format!("read {name}"),
                            &format!("read {amount}"),
                        ]),
                        " when { resource.owner == principal }".to_string(),
                    ),
                    1 => (
                        format!("action in M{m}::Action::\"read E{e}\""),
                        " when { resource.createdDate > context.now - 30 * 86400000 }".to_string(),
                    ),
                    2 if e >= modules => (
                        format!("action == M{m}::Action::\"read {name}\""),
                        format!(
                            " when {{ resource has E{e}_Parent && resource.E{e}_Parent.State == \"Closed\" \
                             && resource.Amount.greaterThan(decimal(\"10.0\")) }}"
                        ),
                    ),
                    3 => (
                        act(&[&format!("read {name}"), &format!("read {state}")]),
                        " when { resource.Name like \"*x*\" || !(resource.State == \"Open\") }".to_string(),
                    ),
                    _ => (act(&[&format!("read {name}"), &format!("read {amount}")]), String::new()),
                };
                policies.push_str(&format!("permit(principal in {role}, {action}, resource is M{m}::E{e}){when};\n"));
            }
        }
        schema.push_str("}\n");
    }
    (schema, policies)
}
