//! The shop of W1/W2/W4 on warden (copied from `benches/eval.rs`) and as plain Rust structs (the floor).

use warden::model::Program;
use warden::source::SourceMap;
use warden::store::{MemoryStore, Object, ObjectId, Store, Value};

/// Five module roles and twenty rules over four entities; Customers own their carts.
pub const PROGRAM: &str = r#"
module Shop {
  enumeration Status { Open, Paid, Cancelled }
  entity Cart { stores owner, createdDate  Total: Decimal = 0  Status: Status = Open }
  entity Line { stores owner  Quantity: Integer = 1 }
  entity Product { Name: String  Price: Decimal  Cost: Decimal }
  entity Note { Text: String }
  association Line_Cart: Line -> Cart
  module role Customer
  module role Guest
  module role Clerk
  module role Manager
  module role Auditor
  access Cart for Customer { create delete write Total, Status where [System.owner = '[%CurrentUser%]'] }
  access Cart for Guest { create write Total where [System.owner = '[%CurrentUser%]'] }
  access Cart for Clerk { read Total, Status where [Status = 'Open'] }
  access Cart for Manager { read * where [createdDate > '[%CurrentDateTime%] - 30 * [%DayLength%]'] }
  access Cart for Auditor { read Total where [Status = 'Paid'] }
  access Line for Customer { create delete write Quantity, Line_Cart where [System.owner = '[%CurrentUser%]'] }
  access Line for Guest { create write Quantity where [System.owner = '[%CurrentUser%]'] }
  access Line for Clerk { read Quantity where [Shop.Line_Cart/Shop.Cart/Status = 'Open'] }
  access Line for Manager { read * }
  access Line for Auditor { read Quantity }
  access Product for Customer { read Name, Price }
  access Product for Guest { read Name, Price }
  access Product for Clerk { read Name, Price }
  access Product for Manager { create delete write * }
  access Product for Auditor { read * }
  access Note for Customer { read Text }
  access Note for Guest { read Text }
  access Note for Clerk { write Text }
  access Note for Manager { write Text }
  access Note for Auditor { read Text }
}
user role Buyer: Shop.Customer
user role Visitor: Shop.Guest
user role Staff: Shop.Clerk
user role Boss: Shop.Manager
user role Inspector: Shop.Auditor
"#;

/// Users 1..=1000 own carts round-robin: cart `k` (warden id `1001 + k`) belongs to user `1 + k % 1000`.
pub const USERS: u64 = 1000;

/// The owner of cart `k`.
pub fn owner_of(k: u64) -> u64 {
    1 + k % USERS
}

/// The total of cart `k`.
pub fn total_of(k: u64) -> i64 {
    k as i64 % 100
}

/// The checked shop program.
pub fn program() -> Program {
    let mut sources = SourceMap::new();
    sources.add("bench.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.program.access_rules.len(), 20);
    checked.program
}

/// 1,000 users (ids 1..=1000, all Buyers) and `carts` carts owned round-robin.
pub fn store(program: &Program, carts: usize) -> MemoryStore {
    let mut s = MemoryStore::new();
    let user = program.entity_by_name("System.User").unwrap();
    let cart = program.entity_by_name("Shop.Cart").unwrap();
    let role = ObjectId::of_role(program.user_role_by_name("Buyer").unwrap());
    let (name, roles) =
        (program.entity(user).member("Name").unwrap(), program.entity(user).member("System.UserRoles").unwrap());
    for i in 1..=USERS {
        let mut o = Object::new(program, ObjectId(i), user);
        o.values[name] = Value::String(format!("user{i}"));
        o.values[roles] = Value::List(vec![role]);
        s.put(o);
    }
    let owner = program.entity(cart).member("System.owner").unwrap();
    let total = program.entity(cart).member("Total").unwrap();
    for k in 0..carts as u64 {
        let mut o = Object::new(program, ObjectId(1001 + k), cart);
        o.values[owner] = Value::Object(ObjectId(owner_of(k)));
        o.values[total] = Value::Integer(total_of(k));
        s.put(o);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The floor: the same rules for Cart hand-written over plain structs.
// ---------------------------------------------------------------------------------------------

/// Role bits of a plain user.
pub const CUSTOMER: u8 = 1;
/// Role bits of a plain user.
pub const GUEST: u8 = 2;
/// Role bits of a plain user.
pub const CLERK: u8 = 4;
/// Role bits of a plain user.
pub const MANAGER: u8 = 8;
/// Role bits of a plain user.
pub const AUDITOR: u8 = 16;

/// Cart statuses.
pub const OPEN: u8 = 0;
/// Cart statuses.
pub const PAID: u8 = 1;

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A cart as a plain struct. `created` is not in the brief's struct but the Manager rule needs it
/// (warden stores `createdDate` too); empty in warden is `i64::MIN` here.
#[derive(Clone, Copy, Debug)]
pub struct Cart {
    /// The owning user's id.
    pub owner: u32,
    /// The total.
    pub total: i64,
    /// Creation time in ms.
    pub created: i64,
    /// `OPEN`, `PAID` or cancelled.
    pub status: u8,
}

/// A user as a plain struct.
#[derive(Clone, Debug)]
pub struct User {
    /// Its id.
    pub id: u32,
    /// Its name (kept so that the memory comparison holds the same data).
    pub name: String,
    /// Its module roles as bits.
    pub roles: u8,
}

/// Cart members a rule may grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartMember {
    /// `Total`.
    Total,
    /// `Status`.
    Status,
}

/// The five Cart rules of [`PROGRAM`] for reading a member (write implies read).
#[inline(never)]
pub fn may_read_cart(user: &User, cart: &Cart, member: CartMember, now: i64) -> bool {
    let owns = cart.owner == user.id;
    (user.roles & CUSTOMER != 0 && owns)
        || (user.roles & GUEST != 0 && owns && member == CartMember::Total)
        || (user.roles & CLERK != 0 && cart.status == OPEN)
        || (user.roles & MANAGER != 0 && cart.created > now - 30 * DAY_MS)
        || (user.roles & AUDITOR != 0 && cart.status == PAID && member == CartMember::Total)
}

/// The users and carts of [`store`] as plain structs.
pub fn plain(carts: usize) -> (Vec<User>, Vec<Cart>) {
    let users = (1..=USERS).map(|i| User { id: i as u32, name: format!("user{i}"), roles: CUSTOMER }).collect();
    let mut v = Vec::with_capacity(carts);
    v.extend((0..carts as u64).map(|k| Cart {
        owner: owner_of(k) as u32,
        total: total_of(k),
        created: i64::MIN,
        status: OPEN,
    }));
    (users, v)
}
