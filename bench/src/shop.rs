//! The shop of W1/W2/W4 on warden (the fixture shared with `benches/eval.rs`) and as plain
//! Rust structs (the floor).

#[path = "../../benches/fixtures/shop.rs"]
mod fixture;

pub use fixture::*;

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

/// The users and carts of [`store_varied`] as plain structs: the same data, every cart's
/// status and creation time its own.
pub fn plain_varied(carts: usize) -> (Vec<User>, Vec<Cart>) {
    let (users, mut v) = plain(carts);
    for (k, c) in v.iter_mut().enumerate() {
        c.status = status_of(k as u64) as u8;
        c.created = created_of(k as u64);
    }
    (users, v)
}
