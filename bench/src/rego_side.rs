//! The shop in Rego v1 on regorus: one `allow` rule body per warden access rule (a rule granting
//! both plain operations and member reads/writes becomes two bodies). The input carries the user,
//! the operation, the member and the resource, as OPA users usually send it.

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};

use crate::shop::{owner_of, total_of};

/// The rule evaluated.
pub const RULE: &str = "data.shop.allow";

/// The policy; writing a member implies reading it, as in warden.
pub const POLICY: &str = r#"
package shop

default allow := false

owns if input.resource.owner == input.user.id

# Cart
allow if {
	input.resource.type == "Cart"
	"Customer" in input.user.roles
	input.op in {"create", "delete"}
	owns
}
allow if {
	input.resource.type == "Cart"
	"Customer" in input.user.roles
	input.op in {"read", "write"}
	input.member in {"Total", "Status"}
	owns
}
allow if {
	input.resource.type == "Cart"
	"Guest" in input.user.roles
	input.op == "create"
	owns
}
allow if {
	input.resource.type == "Cart"
	"Guest" in input.user.roles
	input.op in {"read", "write"}
	input.member == "Total"
	owns
}
allow if {
	input.resource.type == "Cart"
	"Clerk" in input.user.roles
	input.op == "read"
	input.member in {"Total", "Status"}
	input.resource.Status == "Open"
}
allow if {
	input.resource.type == "Cart"
	"Manager" in input.user.roles
	input.op == "read"
	input.resource.createdDate > input.now - 30 * 86400000
}
allow if {
	input.resource.type == "Cart"
	"Auditor" in input.user.roles
	input.op == "read"
	input.member == "Total"
	input.resource.Status == "Paid"
}

# Line
allow if {
	input.resource.type == "Line"
	"Customer" in input.user.roles
	input.op in {"create", "delete"}
	owns
}
allow if {
	input.resource.type == "Line"
	"Customer" in input.user.roles
	input.op in {"read", "write"}
	input.member in {"Quantity", "Line_Cart"}
	owns
}
allow if {
	input.resource.type == "Line"
	"Guest" in input.user.roles
	input.op == "create"
	owns
}
allow if {
	input.resource.type == "Line"
	"Guest" in input.user.roles
	input.op in {"read", "write"}
	input.member == "Quantity"
	owns
}
allow if {
	input.resource.type == "Line"
	"Clerk" in input.user.roles
	input.op == "read"
	input.member == "Quantity"
	input.resource.Line_Cart.Status == "Open"
}
allow if {
	input.resource.type == "Line"
	"Manager" in input.user.roles
	input.op == "read"
}
allow if {
	input.resource.type == "Line"
	"Auditor" in input.user.roles
	input.op == "read"
	input.member == "Quantity"
}

# Product
allow if {
	input.resource.type == "Product"
	some role in {"Customer", "Guest", "Clerk"}
	role in input.user.roles
	input.op == "read"
	input.member in {"Name", "Price"}
}
allow if {
	input.resource.type == "Product"
	"Manager" in input.user.roles
	input.op in {"create", "delete", "read", "write"}
}
allow if {
	input.resource.type == "Product"
	"Auditor" in input.user.roles
	input.op == "read"
}

# Note
allow if {
	input.resource.type == "Note"
	some role in {"Customer", "Guest", "Auditor"}
	role in input.user.roles
	input.op == "read"
	input.member == "Text"
}
allow if {
	input.resource.type == "Note"
	some role in {"Clerk", "Manager"}
	role in input.user.roles
	input.op in {"read", "write"}
	input.member == "Text"
}
"#;

/// An engine with the policy loaded (Rego v1 is the default of regorus 0.14).
pub fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.add_policy("shop.rego".to_string(), POLICY.to_string()).unwrap();
    engine
}

/// The same policy compiled for regorus' register VM (RVM).
pub fn vm() -> RegoVM {
    let mut engine = engine();
    let compiled = engine.compile_with_entrypoint(&RULE.into()).unwrap();
    let program = Compiler::compile_from_policy(&compiled, &[RULE]).unwrap();
    let mut vm = RegoVM::new();
    vm.load_program(program);
    vm
}

/// The input asking whether Customer `user` may read the Total of cart `k`.
pub fn read_total_input(user: u64, k: u64, now: i64) -> Value {
    Value::from_json_str(&format!(
        r#"{{"user": {{"id": {user}, "roles": ["Customer"]}}, "op": "read", "member": "Total", "now": {now},
            "resource": {{"type": "Cart", "id": {}, "owner": {}, "Total": {}, "Status": "Open"}}}}"#,
        1001 + k,
        owner_of(k),
        total_of(k)
    ))
    .unwrap()
}

/// One decision on the tree-walking interpreter.
pub fn allowed(engine: &mut Engine, input: &Value) -> bool {
    engine.set_input(input.clone());
    engine.eval_rule(RULE.to_string()).unwrap() == Value::from(true)
}

/// One decision on the RVM.
pub fn allowed_vm(vm: &mut RegoVM, input: &Value) -> bool {
    vm.set_input(input.clone());
    vm.execute().unwrap() == Value::from(true)
}
