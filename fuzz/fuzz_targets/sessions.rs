//! Sessions, sign-in and the object life cycle: the bytes choose a sequence of statements
//! (switch principal, create, change, commit, delete, rollback, set references, sign in,
//! retrieve with constraints, call microflows, move the clock, flip the gate) over a fixed
//! shop program, with members set to extreme values (huge integers and decimals, far dates,
//! long and multibyte strings). Each statement is written as text and goes the way the REPL
//! sends it: `parse_statements`, `check_statements` (statements that do not check are
//! skipped), `Engine::run_top`.
//!
//! Invariants after every statement:
//! - nothing panics;
//! - the store, saved with `to_json`, loads again with `load_json` into the same document
//!   (referential integrity, unique user names, storable values);
//! - every object a retrieve returns (the statement's own, and `retrieve E` for every entity
//!   in every session) is one the session may know of: its own uncommitted object, or one
//!   `can_see` allows;
//! - an error of a principal's statement (not `explain`, `expect`, `as`, `sign in` or a call of
//!   a microflow with full rights, which are the author's) names no object the principal may
//!   not know of, but for one it named itself (in the statement or a variable) or its own
//!   uncommitted objects refer to.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use smol_str::SmolStr;
use warden::eval::{Engine, Outcome, SessionKey, Vars};
use warden::model::flow::{Scope, Stmt};
use warden::model::{Program, Type};
use warden::source::SourceMap;
use warden::store::{load_json, to_json, ObjectId, Value};

/// The shop of examples/shop.rules, with more attribute types (Long, DateTime, a String
/// without a limit), a specialization, a non-persistent entity, a microflow with full rights
/// that anyone may call, and microflows that do date and integer arithmetic.
const PROGRAM: &str = r#"
module Shop {
  enumeration CartStatus { Open, Ordered }

  entity Product {
    Name: String(80)
    Price: Decimal
    Cost: Decimal // managers only
    InStock: Boolean = true
    Added: DateTime
    Stock: Long
  }
  entity Gift extends Product { Wrapping: String(12) }

  entity Cart {
    stores owner, changedBy, createdDate, changedDate
    Total: Decimal = 0
    Status: CartStatus = Open
    Items: Integer = 0
    Due: DateTime
    Note: String
  }

  entity CartLine {
    stores owner
    Quantity: Integer = 1
  }

  entity Wishlist {
    Title: String(40) = 'My wishlist'
  }

  non-persistent entity Draft {
    Text: String
    Amount: Decimal
  }

  association CartLine_Cart: CartLine -> Cart {
    on delete Cart: cascade
  }
  association CartLine_Product: CartLine -> Product {
    on delete Product: prevent 'the product is still in a cart'
  }
  association Wishlist_User: Wishlist -> System.User {
    on delete System.User: cascade
  }
  association Wishlist_Product: Wishlist ->* Product
  association Draft_Cart: Draft -> Cart

  module role Visitor
  module role Buyer
  module role Manager

  access Product for Visitor, Buyer {
    read Name, Price, InStock, Added
    where [InStock = true()]
  }
  access Product for Manager {
    create
    delete
    write *
  }
  access Gift for Visitor, Buyer {
    read Name, Price, Wrapping
    where [Price > 10]
  }
  access Gift for Manager {
    create
    delete
    write *
  }
  access Cart for Visitor, Buyer {
    create
    delete
    write Total, Status, Items, Due, Note
    where [System.owner = '[%CurrentUser%]']
  }
  access Cart for Manager {
    read *
    where [Status = 'Ordered']
  }
  access CartLine for Visitor, Buyer {
    create
    delete
    write Quantity, CartLine_Cart, CartLine_Product
    where [System.owner = '[%CurrentUser%]']
  }
  access CartLine for Manager {
    read Quantity, CartLine_Cart, CartLine_Product
    where [Shop.CartLine_Cart/Shop.Cart/Status = 'Ordered']
  }
  access Wishlist for Visitor, Buyer {
    create
    delete
    write Title, Wishlist_User, Wishlist_Product
    where [Shop.Wishlist_User = '[%CurrentUser%]']
  }
  access Draft for Visitor, Buyer {
    create
    write Text, Amount, Draft_Cart
  }

  microflow TransferCart(AnonymousUser: System.User, SignedInUser: System.User) {
    for $cart in retrieve Shop.Cart [System.owner = $AnonymousUser] {
      change $cart { System.owner = $SignedInUser }
      for $line in retrieve $cart/Shop.CartLine_Cart {
        change $line { System.owner = $SignedInUser }
        commit $line
      }
      commit $cart
    }
  }

  microflow Checkout(Cart: Shop.Cart) allow Buyer apply entity access {
    if $Cart/Status != Shop.CartStatus.Open {
      error 'the cart is already ordered'
    }
    let $total = 0.00
    for $line in retrieve $Cart/Shop.CartLine_Cart {
      $total = $total + $line/Quantity * $line/Shop.CartLine_Product/Price
    }
    change $Cart { Total = $total, Status = Shop.CartStatus.Ordered, Items = count(retrieve $Cart/Shop.CartLine_Cart) }
    commit $Cart
    return $total
  }

  microflow Restock(Product: Shop.Product, By: Long) allow Manager {
    change $Product { Stock = $Product/Stock + $By, InStock = true, Added = [%CurrentDateTime%] }
    commit $Product
    return $Product/Stock
  }

  microflow Postpone(Cart: Shop.Cart, Years: Long, Days: Long) allow Visitor, Buyer apply entity access {
    change $Cart { Due = addDays(addYears([%CurrentDateTime%], $Years), $Days) }
    commit $Cart
    return $Cart/Due
  }

  // Full rights, callable by anyone: a delete that ignores the caller's rules.
  microflow Discard(Product: Shop.Product) allow Visitor, Buyer, Manager {
    delete $Product
  }

  microflow Mine() allow Visitor, Buyer, Manager apply entity access {
    return retrieve Shop.Cart
  }

  microflow Scale(Line: Shop.CartLine, By: Integer) allow Visitor, Buyer apply entity access {
    change $Line { Quantity = $Line/Quantity * $By }
    commit $Line
  }
}

user role Guest: Shop.Visitor
user role Customer: Shop.Buyer
user role ShopManager: Shop.Manager, Shop.Buyer

app Shop {
  access: public
  anonymous: Guest
  sign-in: Shop.TransferCart
}
"#;

/// alice and bob are customers, maria a manager; three products and a gift.
const STORE: &str = r#"{
  "format": "warden-store/1",
  "objects": [
    { "id": 1, "entity": "System.User", "Name": "alice", "UserRoles": ["Customer"] },
    { "id": 2, "entity": "System.User", "Name": "bob", "UserRoles": ["Customer"] },
    { "id": 3, "entity": "System.User", "Name": "maria", "UserRoles": ["ShopManager"] },
    { "id": 4, "entity": "Shop.Product", "Name": "Mug", "Price": "8.50", "Cost": "3.10", "InStock": true, "Stock": 5 },
    { "id": 5, "entity": "Shop.Product", "Name": "Cup", "Price": "4.00", "Cost": "1.20", "InStock": true },
    { "id": 6, "entity": "Shop.Product", "Name": "Teapot", "Price": "24.00", "Cost": "11.00", "InStock": false },
    { "id": 7, "entity": "Shop.Gift", "Name": "Hamper", "Price": "40.00", "Cost": "20.00", "Wrapping": "red" },
    { "id": 8, "entity": "Shop.Cart", "System.owner": 1, "Total": "0", "Status": "Open" },
    { "id": 9, "entity": "Shop.CartLine", "System.owner": 1, "Quantity": 2, "Shop.CartLine_Cart": 8, "Shop.CartLine_Product": 4 }
  ]
}"#;

/// The entities a retrieve may name (every one, for the sweep after each statement).
const ENTITIES: [&str; 8] = [
    "Shop.Product",
    "Shop.Gift",
    "Shop.Cart",
    "Shop.CartLine",
    "Shop.Wishlist",
    "Shop.Draft",
    "System.User",
    "System.UserRole",
];

/// What a member holds, for drawing values.
#[derive(Clone, Copy)]
enum Kind {
    Text(Option<usize>),
    Hashed,
    Integer,
    Long,
    Decimal,
    Boolean,
    Date,
    Status,
    Ref,
    RefSet,
    Roles,
}

/// The members of each entity that a create or change may set (system members included: writing
/// them is refused, which is worth trying too).
fn members(entity: &str) -> &'static [(&'static str, Kind)] {
    const PRODUCT: &[(&str, Kind)] = &[
        ("Name", Kind::Text(Some(80))),
        ("Price", Kind::Decimal),
        ("Cost", Kind::Decimal),
        ("InStock", Kind::Boolean),
        ("Added", Kind::Date),
        ("Stock", Kind::Long),
    ];
    const GIFT: &[(&str, Kind)] = &[
        ("Name", Kind::Text(Some(80))),
        ("Price", Kind::Decimal),
        ("Cost", Kind::Decimal),
        ("InStock", Kind::Boolean),
        ("Wrapping", Kind::Text(Some(12))),
        ("Stock", Kind::Long),
    ];
    const CART: &[(&str, Kind)] = &[
        ("Total", Kind::Decimal),
        ("Status", Kind::Status),
        ("Items", Kind::Integer),
        ("Due", Kind::Date),
        ("Note", Kind::Text(None)),
        ("System.owner", Kind::Ref),
        ("createdDate", Kind::Date),
    ];
    const LINE: &[(&str, Kind)] = &[
        ("Quantity", Kind::Integer),
        ("Shop.CartLine_Cart", Kind::Ref),
        ("Shop.CartLine_Product", Kind::Ref),
        ("System.owner", Kind::Ref),
    ];
    const WISH: &[(&str, Kind)] =
        &[("Title", Kind::Text(Some(40))), ("Shop.Wishlist_User", Kind::Ref), ("Shop.Wishlist_Product", Kind::RefSet)];
    const DRAFT: &[(&str, Kind)] =
        &[("Text", Kind::Text(None)), ("Amount", Kind::Decimal), ("Shop.Draft_Cart", Kind::Ref)];
    const USER: &[(&str, Kind)] = &[
        ("Name", Kind::Text(None)),
        ("Password", Kind::Hashed),
        ("Active", Kind::Boolean),
        ("IsAnonymous", Kind::Boolean),
        ("System.UserRoles", Kind::Roles),
    ];
    match entity {
        "Shop.Product" => PRODUCT,
        "Shop.Gift" => GIFT,
        "Shop.Cart" => CART,
        "Shop.CartLine" => LINE,
        "Shop.Wishlist" => WISH,
        "Shop.Draft" => DRAFT,
        _ => USER,
    }
}

/// Constraints a retrieve of each entity may carry.
fn constraints(entity: &str) -> &'static [&'static str] {
    match entity {
        "Shop.Product" | "Shop.Gift" => &[
            "[InStock = true()]",
            "[Cost > 1]",
            "[Price >= 4.00]",
            "[contains(Name, 'u')]",
            "[Name = 'MUG']",
            "[Stock > 9223372036854775806]",
            "[Added > '[%CurrentDateTime%]']",
            "[Added < '[%BeginOfCurrentDay%] - 3 * [%YearLength%]']",
            "[not(Price = empty)]",
            "[InStock = false()][Cost < 100]",
        ],
        "Shop.Cart" => &[
            "[System.owner = '[%CurrentUser%]']",
            "[Status = 'Ordered']",
            "[Total > 0]",
            "[Items < -2147483647]",
            "[Due > '[%CurrentDateTime%]']",
            "[Due = empty]",
            "[Due > '[%CurrentDateTime%] + 9223372036854775807 * [%SecondLength%]']",
            "[Due < '[%BeginOfCurrentYear%] - 9223372036854775807 * [%YearLength%]']",
            "[createdDate < '[%CurrentDateTime%]']",
            "[Shop.CartLine_Cart/Shop.CartLine/Quantity > 1]",
            "[Shop.CartLine_Cart/Shop.CartLine/Shop.CartLine_Product/Shop.Product/Cost > 2]",
            "[System.owner/System.User/Name = 'alice']",
        ],
        "Shop.CartLine" => &[
            "[Quantity > 1]",
            "[Shop.CartLine_Cart/Shop.Cart/Status = 'Ordered']",
            "[Shop.CartLine_Product/Shop.Product/Cost > 1]",
            "[System.owner = '[%CurrentUser%]']",
            "[Shop.CartLine_Cart = empty]",
        ],
        "Shop.Wishlist" => &[
            "[Shop.Wishlist_User = '[%CurrentUser%]']",
            "[Shop.Wishlist_Product/Shop.Product/Cost > 1]",
            "[Title = 'My wishlist']",
            "[Shop.Wishlist_User/System.User/IsAnonymous = true()]",
        ],
        "Shop.Draft" => &["[Amount > 0]", "[Shop.Draft_Cart/Shop.Cart/Total > 0]"],
        "System.User" => &["[IsAnonymous = true()]", "[Name = 'alice']", "[Active = false()]", "[Name = empty]"],
        _ => &["[Name = 'Guest']"],
    }
}

/// Draws the statements; at most `MAX` per input.
const MAX: usize = 60;

struct Gen<'a, 'b> {
    u: &'b mut Unstructured<'a>,
}

impl Gen<'_, '_> {
    fn pick<T: Copy>(&mut self, items: &[T]) -> ArbResult<T> {
        Ok(*self.u.choose(items)?)
    }

    fn below(&mut self, n: usize) -> ArbResult<usize> {
        self.u.choose_index(n)
    }

    fn var(&mut self) -> ArbResult<String> {
        Ok(format!("$v{}", self.below(6)?))
    }

    /// An object: `#id`, a variable, or `$currentUser`.
    fn object(&mut self) -> ArbResult<String> {
        Ok(match self.below(8)? {
            0..=2 => format!("#{}", 1 + self.below(16)?),
            3 => format!("#{}", 1 + self.below(40)?),
            4..=6 => self.var()?,
            _ => "$currentUser".to_string(),
        })
    }

    fn objects(&mut self) -> ArbResult<String> {
        Ok(match self.below(4)? {
            0 => self.var()?,
            1 => "[]".into(),
            _ => {
                let n = 1 + self.below(3)?;
                let items: Vec<String> = (0..n).map(|_| self.object()).collect::<ArbResult<_>>()?;
                format!("[{}]", items.join(", "))
            }
        })
    }

    fn long(&mut self) -> ArbResult<String> {
        Ok(match self.below(13)? {
            0 => "0".into(),
            1 => "-1".into(),
            2 => "2147483647".into(),
            3 => "2147483648".into(),
            4 => "-2147483648".into(),
            5 => "9223372036854775807".into(),
            6 => "-9223372036854775807 - 1".into(),
            7 => "99999999999999999999".into(),
            8 => format!("{}", self.u.arbitrary::<i64>()?),
            9 => format!("{}", self.u.arbitrary::<i32>()?),
            10 => format!("{} * {}", self.u.arbitrary::<i32>()?, self.u.arbitrary::<i32>()?),
            11 => {
                // Integer arithmetic at the edges: negation, `mod`, `div`, sums.
                let (a, b) = (self.small_long()?, self.small_long()?);
                let op = self.pick(&["mod", "div", "+", "-", "*"])?;
                match self.below(3)? {
                    0 => format!("-({a})"),
                    _ => format!("({a}) {op} ({b})"),
                }
            }
            _ => format!("{}", self.below(100)?),
        })
    }

    /// A whole number without operators (an operand of `long`'s arithmetic).
    fn small_long(&mut self) -> ArbResult<String> {
        Ok(match self.below(8)? {
            0 => "-9223372036854775807 - 1".into(),
            1 => "9223372036854775807".into(),
            2 => "-1".into(),
            3 => "0".into(),
            4 => "-2147483648".into(),
            5 => format!("{}", self.u.arbitrary::<i64>()?),
            _ => format!("{}", self.below(10)?),
        })
    }

    fn decimal(&mut self) -> ArbResult<String> {
        Ok(match self.below(12)? {
            0 => "0".into(),
            1 => "3.50".into(),
            2 => "-0.01".into(),
            3 => "79228162514264337593543950335".into(),
            4 => "-79228162514264337593543950335".into(),
            5 => "0.0000000000000000000000000001".into(),
            6 => "79228162514264337593543950335 * 10".into(),
            7 => "1 div 3".into(),
            8 => "1 div 0".into(),
            9 => format!("{}.{:02}", self.u.arbitrary::<i32>()?, self.below(100)?),
            10 => "9223372036854775807 * 9223372036854775807".into(),
            _ => format!("{}", self.below(1000)?),
        })
    }

    fn date(&mut self) -> ArbResult<String> {
        let far = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-11-22T10:00:00Z", "1970-01-01T00:00:00Z"];
        Ok(match self.below(10)? {
            0 => "[%CurrentDateTime%]".into(),
            1 => format!("dateTime('{}')", self.pick(&far)?),
            2 => format!("addYears(dateTime('{}'), {})", self.pick(&far)?, self.long()?),
            3 => format!("addDays([%CurrentDateTime%], {})", self.long()?),
            4 => format!("addMonths([%BeginOfCurrentDay%], {})", self.long()?),
            5 => format!("addSeconds(dateTime('{}'), {})", self.pick(&far)?, self.long()?),
            6 => {
                let token = self.pick(&["[%CurrentDateTime%]", "[%BeginOfCurrentYear%]"])?;
                let op = self.pick(&["+", "-"])?;
                let length = self.pick(&["[%DayLength%]", "[%HourLength%]", "[%MonthLength%]", "[%YearLength%]"])?;
                format!("{token} {op} {} * {length}", self.long()?)
            }
            7 => "[%EndOfTomorrow%]".into(),
            _ => "empty".into(),
        })
    }

    fn text(&mut self, max: Option<usize>) -> ArbResult<String> {
        let limit = max.unwrap_or(40);
        let unit = self.pick(&["a", "é", "😀", "''", " ", "\\"])?;
        let n = match self.below(6)? {
            0 => 0,
            1 => limit,
            2 => limit + 1,
            3 => 5000,
            _ => self.below(limit + 2)?,
        };
        // `''` is one character written twice.
        let body: String = unit.repeat(n);
        Ok(match self.below(6)? {
            0 => format!("'{body}' + '{unit}'"),
            1 => format!("toString({})", self.long()?),
            _ => format!("'{body}'"),
        })
    }

    fn value(&mut self, kind: Kind) -> ArbResult<String> {
        if self.below(16)? == 0 {
            return Ok("empty".into());
        }
        Ok(match kind {
            Kind::Text(max) => self.text(max)?,
            Kind::Hashed => self.text(Some(8))?,
            Kind::Integer | Kind::Long => match self.below(6)? {
                0 => format!("{}/Quantity * {}", self.var()?, self.long()?),
                1 => format!("length({})", self.text(None)?),
                _ => self.long()?,
            },
            Kind::Decimal => match self.below(6)? {
                0 => format!("{}/Price * {}", self.var()?, self.decimal()?),
                _ => self.decimal()?,
            },
            Kind::Boolean => self.pick(&["true", "false"])?.into(),
            Kind::Date => self.date()?,
            Kind::Status => self.pick(&["Shop.CartStatus.Open", "Shop.CartStatus.Ordered"])?.into(),
            Kind::Ref => self.object()?,
            Kind::RefSet => self.objects()?,
            Kind::Roles => {
                let roles = ["[%UserRole_Guest%]", "[%UserRole_Customer%]", "[%UserRole_ShopManager%]"];
                format!("[{}]", self.pick(&roles)?)
            }
        })
    }

    fn member_values(&mut self, entity: &str) -> ArbResult<String> {
        let all = members(entity);
        let n = self.below(4)?;
        let mut parts = Vec::new();
        for _ in 0..n {
            let (name, kind) = self.pick(all)?;
            let op = match kind {
                Kind::RefSet | Kind::Roles => self.pick(&["=", "+=", "-="])?,
                _ => "=",
            };
            parts.push(format!("{name} {op} {}", self.value(kind)?));
        }
        Ok(format!("{{ {} }}", parts.join(", ")))
    }

    fn retrieve(&mut self) -> ArbResult<String> {
        Ok(match self.below(6)? {
            0 => {
                let path = self.pick(&[
                    "Shop.CartLine_Cart",
                    "Shop.CartLine_Product",
                    "Shop.Wishlist_Product",
                    "Shop.Wishlist_User",
                    "System.owner",
                    "Shop.Draft_Cart",
                ])?;
                format!("retrieve {}/{path}", self.var()?)
            }
            _ => {
                let entity = self.pick(&ENTITIES)?;
                let first = if self.below(4)? == 0 { "first " } else { "" };
                let mut text = format!("retrieve {first}{entity}");
                for _ in 0..self.below(3)? {
                    text.push(' ');
                    text.push_str(self.pick(constraints(entity))?);
                }
                text
            }
        })
    }

    /// One statement, and whether it is a retrieve whose result is checked (`let` binds it
    /// to the named variable).
    fn statement(&mut self) -> ArbResult<(String, Retrieved)> {
        let kind = self.below(20)?;
        let s = match kind {
            0..=2 => {
                let who = self.pick(&[
                    "as anonymous 'A'",
                    "as anonymous 'B'",
                    "as anonymous 'C'",
                    "as anonymous",
                    "as alice",
                    "as bob",
                    "as maria",
                    "as system",
                ])?;
                who.to_string()
            }
            3..=5 => {
                let entity = self.pick(&ENTITIES[..7])?;
                format!("let {} = create {entity} {}", self.var()?, self.member_values(entity)?)
            }
            6 | 7 => {
                let entity = self.pick(&ENTITIES[..7])?;
                format!("change {} {}", self.object()?, self.member_values(entity)?)
            }
            8 | 9 => match self.below(3)? {
                0 => format!("commit {}", self.objects()?),
                _ => format!("commit {}", self.object()?),
            },
            10 => format!("delete {}", if self.below(3)? == 0 { self.objects()? } else { self.object()? }),
            11 => format!("rollback {}", self.object()?),
            12 => format!("sign in {}", self.pick(&["alice", "bob", "maria", "nobody"])?),
            13..=15 => {
                let r = self.retrieve()?;
                return Ok(match self.below(2)? {
                    0 => (r, Retrieved::Outcome),
                    _ => {
                        let v = self.var()?;
                        (format!("let {v} = {r}"), Retrieved::Var(v[1..].into()))
                    }
                });
            }
            16 => {
                let call = match self.below(7)? {
                    0 => format!("call Shop.Checkout(Cart = {})", self.object()?),
                    1 => format!("call Shop.Restock(Product = {}, By = {})", self.object()?, self.long()?),
                    2 => format!(
                        "call Shop.Postpone(Cart = {}, Years = {}, Days = {})",
                        self.object()?,
                        self.long()?,
                        self.long()?
                    ),
                    3 => format!("call Shop.Discard(Product = {})", self.object()?),
                    4 => format!("call Shop.Scale(Line = {}, By = {})", self.object()?, self.long()?),
                    5 => format!(
                        "call Shop.TransferCart(AnonymousUser = {}, SignedInUser = {})",
                        self.object()?,
                        self.object()?
                    ),
                    _ => return Ok(("call Shop.Mine()".into(), Retrieved::Outcome)),
                };
                call
            }
            17 => match self.below(3)? {
                0 => format!(
                    "now '{}'",
                    self.pick(&["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2027-01-01T00:00:00Z"])?
                ),
                1 => format!("set access {}", self.pick(&["public", "invited"])?),
                _ => {
                    let v = self.var()?;
                    let kind = self.pick(&[Kind::Long, Kind::Decimal, Kind::Date, Kind::Text(None)])?;
                    format!("let {v} = {}", self.value(kind)?)
                }
            },
            18 => {
                let op = match self.below(4)? {
                    0 => format!("read {}/Cost", self.object()?),
                    1 => format!("write {}/Total", self.object()?),
                    2 => format!("delete {}", self.object()?),
                    _ => "create Shop.Cart".into(),
                };
                match self.below(3)? {
                    0 => format!("explain {op}"),
                    1 => format!("expect allow {op}"),
                    _ => format!("expect deny {op}"),
                }
            }
            _ => {
                // Several statements in one input, as the REPL takes them.
                let a = self.var()?;
                format!("let {a} = create Shop.Cart {{}}\nlet $w = create Shop.CartLine {{ Shop.CartLine_Cart = {a} }}\ncommit [{a}, $w]")
            }
        };
        Ok((s, Retrieved::No))
    }
}

/// Whether a statement's result is a retrieve's, to check.
enum Retrieved {
    No,
    /// The statement's outcome.
    Outcome,
    /// The variable it binds.
    Var(SmolStr),
}

/// The variables bound so far with their static types, as the REPL works them out: where a
/// type is unknown statically (`let $x = #5`), the type of the value the variable holds now.
fn var_types(engine: &Engine<'_>, vars: &Vars, scope: &Scope) -> Scope {
    let mut refined = scope.clone();
    for (slot, ty) in refined.types.iter_mut().enumerate() {
        let Some(v) = vars.get(slot).filter(|_| *ty == Type::Unknown) else { continue };
        *ty = match v {
            Value::Object(id) => engine.object(*id).map_or(Type::Unknown, |o| Type::Object(o.entity)),
            Value::List(ids) => {
                ids.first().and_then(|id| engine.object(*id)).map_or(Type::Unknown, |o| Type::List(o.entity))
            }
            Value::String(_) => Type::String,
            Value::Integer(_) => Type::Long,
            Value::Decimal(_) => Type::Decimal,
            Value::Boolean(_) => Type::Boolean,
            Value::DateTime(_) => Type::DateTime,
            Value::Enum(e, _) => Type::Enum(*e),
            Value::Instance(_) => Type::Instance,
            Value::Duration { .. } => Type::Duration,
            Value::Empty => Type::Unknown,
        };
    }
    refined
}

/// The ids a retrieve's value holds.
fn ids_of(value: &Value) -> Vec<ObjectId> {
    match value {
        Value::Object(id) => vec![*id],
        Value::List(ids) => ids.clone(),
        _ => Vec::new(),
    }
}

/// Panics unless the acting session may know of every id: its own uncommitted object, or one
/// it can see.
fn check_visible(engine: &Engine<'_>, ids: &[ObjectId], what: &str, log: &str) {
    let session = engine.session();
    for &id in ids {
        if session.uncommitted.contains_key(&id) {
            continue;
        }
        let Some(object) = engine.object(id) else {
            panic!("{what} as {} returned {id}, which does not exist\n{log}", engine.principal_name());
        };
        assert!(
            engine.can_see(&object),
            "{what} as {} returned {id} ({:?}), which it cannot see\n{log}",
            engine.principal_name(),
            object
        );
        assert!(
            engine.knows(id),
            "{what} as {} returned {id}, which it may not know of\n{log}",
            engine.principal_name()
        );
    }
}

/// The store saved as JSON loads again into the same document (`last` is the text checked
/// last time, which need not be loaded again).
fn check_store(program: &Program, engine: &Engine<'_>, last: &mut String, log: &str) {
    let doc = to_json(program, engine.store());
    let text = serde_json::to_string(&doc).expect("a document prints");
    if text == *last {
        return;
    }
    match load_json(program, &text) {
        Ok(again) => {
            assert!(to_json(program, &again) == doc, "the saved store loads into another store\n{text}\n{log}")
        }
        Err(errors) => panic!("the store no longer loads: {errors:?}\n{text}\n{log}"),
    }
    *last = text;
}

fn run(data: &[u8]) {
    let mut sources = SourceMap::new();
    sources.add("shop.rules", PROGRAM);
    let checked = warden::load::load(sources);
    assert!(!checked.has_errors(), "the fuzzed program checks: {:?}", checked.diagnostics);
    let mut program = checked.program;

    // `retrieve E` for every entity, checked once: the sweep after each statement.
    let sweep_text: String = ENTITIES.iter().fold(String::new(), |mut s, e| {
        let _ = writeln!(s, "retrieve {e}");
        s
    });
    let sweep: Vec<Stmt> =
        warden::check::compile_statements(&mut program, "<sweep>", &sweep_text).expect("the sweep checks").stmts;

    // Statements are drawn first (the program grows a source file per statement).
    let mut u = Unstructured::new(data);
    let mut texts = Vec::new();
    let script = data.strip_prefix(b"#!script\n".as_slice()).or(std::env::var_os("WARDEN_FUZZ_SCRIPT").map(|_| data));
    if let Some(script) = script {
        // For reproducing by hand and for readable regressions: the input is statements, one
        // a line (after a first line `#!script`, or with WARDEN_FUZZ_SCRIPT=1).
        for line in String::from_utf8_lossy(script).lines().filter(|l| !l.trim().is_empty()) {
            let retrieved = if line.trim_start().starts_with("retrieve") { Retrieved::Outcome } else { Retrieved::No };
            texts.push((line.to_string(), retrieved));
        }
    } else {
        let mut g = Gen { u: &mut u };
        while texts.len() < MAX && !g.u.is_empty() {
            match g.statement() {
                Ok(s) => texts.push(s),
                Err(_) => break,
            }
        }
    }
    let mut parsed = Vec::new();
    for (i, (text, retrieved)) in texts.into_iter().enumerate() {
        let file = program.sources.add(format!("<fuzz:{i}>"), text.clone());
        match warden::syntax::parse_statements(&text, file) {
            Ok(stmts) => parsed.push((text, stmts, retrieved)),
            Err(e) => panic!("the generator wrote a statement that does not parse: {e}\n{text}"),
        }
    }

    let store = load_json(&program, STORE).expect("the initial store loads");
    let now = warden::time::parse_instant("2026-11-22T10:00:00Z").expect("a time");
    // The engine borrows the program, which checking changes; statements are checked
    // against the program first, then run by an engine resumed from the last state.
    let mut state = {
        let mut engine = Engine::new(&program, Box::new(store), now);
        engine.set_step_budget(100_000);
        engine.into_state()
    };
    let mut vars = Vars::new();
    let mut scope = Scope::default();
    let mut log = String::new();
    let mut last = String::new();
    for (text, stmts, retrieved) in parsed {
        // `let` of a name bound before declares it afresh in a new slot (the REPL would refuse
        // it): the old slot's name is retired.
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("let $").and_then(|l| l.split(' ').next()) {
                for n in scope.names.iter_mut().filter(|n| n.as_str() == name) {
                    *n = SmolStr::new("retired");
                }
            }
        }
        let types = {
            let engine = Engine::resume(&program, state);
            let types = var_types(&engine, &vars, &scope);
            state = engine.into_state();
            types
        };
        let checked = warden::check::check_statements(&mut program, &stmts, &types);
        if let Some(d) = checked.diagnostics.iter().find(|d| d.is_error()) {
            if verbose() {
                eprintln!("skipped> {text}");
            }
            note(&mut log, format!("skipped> {text}\n  -> {} {}", d.code, d.message));
            continue;
        }
        scope = checked.scope;
        let mut engine = Engine::resume(&program, state);
        for stmt in &checked.stmts {
            if verbose() {
                eprintln!("{}> {text}", engine.principal_name());
            }
            let nameable = nameable(&engine, &text, &vars);
            let result = engine.run_top(stmt, &mut vars);
            if let (Some(nameable), Err(e)) = (&nameable, &result) {
                check_named(e, nameable, &text, &log);
            }
            let outcome = match &result {
                Ok(o) => format!("{o:?}"),
                Err(e) => format!("{} {}", e.code, e.message),
            };
            note(&mut log, format!("{}> {text}\n  -> {outcome}", engine.principal_name()));
            match (&retrieved, &result) {
                (Retrieved::Outcome, Ok(Outcome::Value(v))) => check_visible(&engine, &ids_of(v), &text, &log),
                (Retrieved::Var(name), Ok(_)) => {
                    if let Some(v) = scope.slot(name).and_then(|slot| vars.get(slot)) {
                        check_visible(&engine, &ids_of(v), &text, &log);
                    }
                }
                _ => {}
            }
            check_store(&program, &engine, &mut last, &log);
            sweep_sessions(&mut engine, &sweep, &log);
            if result.is_err() {
                break;
            }
        }
        state = engine.into_state();
    }
}

/// What an error of the acting principal's statement may name (`None`: anything, for system
/// and the author's statements): what it may know of, what it named itself (the statement's
/// `#ids`, its variables), what its own uncommitted objects refer to; and every id no object
/// had, which the statement made.
fn nameable(engine: &Engine<'_>, text: &str, vars: &Vars) -> Option<(Vec<ObjectId>, Vec<ObjectId>)> {
    // The author's statements, and calls of microflows with full rights (what they fail with
    // is their author's responsibility).
    let author = ["explain", "expect", "as ", "sign in"].iter().any(|w| text.trim_start().starts_with(w))
        || ["Shop.Restock", "Shop.Discard", "Shop.TransferCart"].iter().any(|m| text.contains(m));
    if engine.is_system() || author {
        return None;
    }
    let session = engine.session();
    let stored: Vec<ObjectId> = engine.store().all().iter().map(|o| o.id).collect();
    let mut existing: Vec<ObjectId> = stored.clone();
    existing.extend(engine.sessions().map(|(_, s)| s).flat_map(|s| s.uncommitted.keys().copied()));
    let mut known: Vec<ObjectId> = stored.into_iter().filter(|id| engine.knows(*id)).collect();
    known.extend(session.uncommitted.keys().copied());
    known.extend(ids_in(text));
    known.extend(vars.values().iter().flatten().flat_map(ids_of));
    known.extend(session.uncommitted.values().flat_map(|o| o.values.iter().flat_map(ids_of)));
    Some((known, existing))
}

/// Panics when an error names an object that was there and the principal may not know of.
fn check_named(e: &warden::eval::EvalError, (known, existing): &(Vec<ObjectId>, Vec<ObjectId>), text: &str, log: &str) {
    for id in ids_in(&e.message) {
        assert!(
            known.contains(&id) || !existing.contains(&id),
            "`{text}` failed with `{}`, which names {id}, an object the principal may not know of\n{log}",
            e.message
        );
    }
}

/// The object ids a text names (`#12`; not a fresh anonymous session's name, `anonymous:#1`).
fn ids_in(text: &str) -> Vec<ObjectId> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        let session = rest[..i].ends_with("anonymous:");
        rest = &rest[i + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let (Ok(n), false) = (digits.parse(), session) {
            out.push(ObjectId(n));
        }
    }
    out
}

/// Whether to print each statement and its outcome as it runs (`WARDEN_FUZZ_LOG=1`).
fn verbose() -> bool {
    static VERBOSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("WARDEN_FUZZ_LOG").is_some())
}

/// Adds a line to the log that failures print (and prints it at once when verbose).
fn note(log: &mut String, line: String) {
    if verbose() {
        eprintln!("{}", line.lines().last().unwrap_or(""));
    }
    log.push_str(&line);
    log.push('\n');
}

/// Runs `retrieve E` for every entity in every session but system's, checking what each returns.
fn sweep_sessions(engine: &mut Engine<'_>, sweep: &[Stmt], log: &str) {
    let acting = engine.current().clone();
    let keys: Vec<SessionKey> =
        engine.sessions().map(|(k, _)| k).filter(|k| **k != SessionKey::System).cloned().collect();
    for key in keys {
        engine.switch_to(&key);
        for stmt in sweep {
            let mut vars = Vars::new();
            if let Ok(Outcome::Value(v)) = engine.run_top(stmt, &mut vars) {
                check_visible(engine, &ids_of(&v), "the sweep", log);
            }
        }
    }
    engine.switch_to(&acting);
}

fuzz_target!(|data: &[u8]| run(data));
