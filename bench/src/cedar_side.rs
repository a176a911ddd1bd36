//! The shop on cedar-policy: the 5 module roles are `Role` groups users are members of, the
//! member-level operations of warden are actions (`"read Cart.Total"`, grouped under `"read Cart"`
//! for `read *`), and each warden access rule is one `permit`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema,
};

use crate::shop::{owner_of, total_of, USERS};

/// The schema: entities, attributes and which actions apply to what.
pub const SCHEMA: &str = r#"
entity Role;
entity User in [Role] { name: String };
entity Cart { owner: User, Total: Long, Status: String, createdDate?: Long };
entity Line { owner: User, Quantity: Long, Line_Cart?: Cart };
entity Product { Name: String, Price: Long, Cost: Long };
entity Note { Text: String };
type Ctx = { now: Long };

action "read Cart", "read Line", "read Product";
action "read Cart.Total", "read Cart.Status", "read Cart.createdDate", "read Cart.owner" in ["read Cart"]
  appliesTo { principal: User, resource: Cart, context: Ctx };
action "write Cart.Total", "write Cart.Status", "create Cart", "delete Cart"
  appliesTo { principal: User, resource: Cart, context: Ctx };
action "read Line.Quantity", "read Line.Line_Cart", "read Line.owner" in ["read Line"]
  appliesTo { principal: User, resource: Line, context: Ctx };
action "write Line.Quantity", "write Line.Line_Cart", "create Line", "delete Line"
  appliesTo { principal: User, resource: Line, context: Ctx };
action "read Product.Name", "read Product.Price", "read Product.Cost" in ["read Product"]
  appliesTo { principal: User, resource: Product, context: Ctx };
action "write Product.Name", "write Product.Price", "write Product.Cost", "create Product", "delete Product"
  appliesTo { principal: User, resource: Product, context: Ctx };
action "read Note.Text", "write Note.Text" appliesTo { principal: User, resource: Note, context: Ctx };
"#;

/// One policy per warden access rule (20); writing a member implies reading it, as in warden.
pub const POLICIES: &str = r#"
permit(principal in Role::"Customer", action in [Action::"create Cart", Action::"delete Cart",
    Action::"write Cart.Total", Action::"write Cart.Status", Action::"read Cart.Total", Action::"read Cart.Status"],
    resource is Cart) when { resource.owner == principal };
permit(principal in Role::"Guest", action in [Action::"create Cart", Action::"write Cart.Total", Action::"read Cart.Total"],
    resource is Cart) when { resource.owner == principal };
permit(principal in Role::"Clerk", action in [Action::"read Cart.Total", Action::"read Cart.Status"], resource is Cart)
    when { resource.Status == "Open" };
permit(principal in Role::"Manager", action in Action::"read Cart", resource is Cart)
    when { resource has createdDate && resource.createdDate > context.now - 30 * 86400000 };
permit(principal in Role::"Auditor", action == Action::"read Cart.Total", resource is Cart)
    when { resource.Status == "Paid" };

permit(principal in Role::"Customer", action in [Action::"create Line", Action::"delete Line",
    Action::"write Line.Quantity", Action::"write Line.Line_Cart", Action::"read Line.Quantity", Action::"read Line.Line_Cart"],
    resource is Line) when { resource.owner == principal };
permit(principal in Role::"Guest", action in [Action::"create Line", Action::"write Line.Quantity", Action::"read Line.Quantity"],
    resource is Line) when { resource.owner == principal };
permit(principal in Role::"Clerk", action == Action::"read Line.Quantity", resource is Line)
    when { resource has Line_Cart && resource.Line_Cart.Status == "Open" };
permit(principal in Role::"Manager", action in Action::"read Line", resource is Line);
permit(principal in Role::"Auditor", action == Action::"read Line.Quantity", resource is Line);

permit(principal in Role::"Customer", action in [Action::"read Product.Name", Action::"read Product.Price"], resource is Product);
permit(principal in Role::"Guest", action in [Action::"read Product.Name", Action::"read Product.Price"], resource is Product);
permit(principal in Role::"Clerk", action in [Action::"read Product.Name", Action::"read Product.Price"], resource is Product);
permit(principal in Role::"Manager", action in [Action::"create Product", Action::"delete Product",
    Action::"write Product.Name", Action::"write Product.Price", Action::"write Product.Cost", Action::"read Product"],
    resource is Product);
permit(principal in Role::"Auditor", action in Action::"read Product", resource is Product);

permit(principal in Role::"Customer", action == Action::"read Note.Text", resource is Note);
permit(principal in Role::"Guest", action == Action::"read Note.Text", resource is Note);
permit(principal in Role::"Clerk", action in [Action::"write Note.Text", Action::"read Note.Text"], resource is Note);
permit(principal in Role::"Manager", action in [Action::"write Note.Text", Action::"read Note.Text"], resource is Note);
permit(principal in Role::"Auditor", action == Action::"read Note.Text", resource is Note);
"#;

/// An entity uid such as `Cart::"1042"`.
pub fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id))
}

/// The parsed and validated shop.
pub struct Shop {
    /// The schema.
    pub schema: Schema,
    /// The 20 policies.
    pub policies: PolicySet,
    /// The authorizer.
    pub authorizer: Authorizer,
    /// `{ now }`.
    pub context: Context,
    /// `Action::"read Cart.Total"`.
    pub read_total: EntityUid,
}

impl Shop {
    /// Parses and validates the schema and policies (panics on any problem).
    pub fn new(now: i64) -> Shop {
        let (schema, warnings) = Schema::from_cedarschema_str(SCHEMA).unwrap_or_else(|e| panic!("{e:?}"));
        let warnings: Vec<_> = warnings.collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        let policies = PolicySet::from_str(POLICIES).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(policies.policies().count(), 20);
        let result =
            cedar_policy::Validator::new(schema.clone()).validate(&policies, cedar_policy::ValidationMode::Strict);
        assert!(result.validation_passed_without_warnings(), "{result:?}");
        let context = Context::from_pairs([("now".to_string(), RestrictedExpression::new_long(now))]).expect("context");
        Shop { schema, policies, authorizer: Authorizer::new(), context, read_total: uid("Action", "read Cart.Total") }
    }

    /// Users (all Customers) and carts `k` (id `1001 + k`, owned as in warden's store), checked against the schema.
    pub fn entities(&self, users: impl IntoIterator<Item = u64>, carts: impl IntoIterator<Item = u64>) -> Entities {
        let mut all = Vec::new();
        for r in ["Customer", "Guest", "Clerk", "Manager", "Auditor"] {
            all.push(Entity::new_no_attrs(uid("Role", r), HashSet::new()));
        }
        let customer = HashSet::from([uid("Role", "Customer")]);
        for i in users {
            let attrs = HashMap::from([("name".to_string(), RestrictedExpression::new_string(format!("user{i}")))]);
            all.push(Entity::new(uid("User", &i.to_string()), attrs, customer.clone()).unwrap());
        }
        for k in carts {
            all.push(cart(k));
        }
        Entities::from_entities(all, Some(&self.schema)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Whether `user` may read the Total of cart `k`.
    pub fn may_read_total(&self, user: &EntityUid, k: u64, entities: &Entities) -> bool {
        let request =
            Request::new(user.clone(), self.read_total.clone(), cart_uid(k), self.context.clone(), None).unwrap();
        self.authorizer.is_authorized(&request, &self.policies, entities).decision() == Decision::Allow
    }
}

/// The uid of cart `k`.
pub fn cart_uid(k: u64) -> EntityUid {
    uid("Cart", &(1001 + k).to_string())
}

/// Cart `k` as a Cedar entity.
pub fn cart(k: u64) -> Entity {
    let attrs = HashMap::from([
        ("owner".to_string(), RestrictedExpression::new_entity_uid(uid("User", &owner_of(k).to_string()))),
        ("Total".to_string(), RestrictedExpression::new_long(total_of(k))),
        ("Status".to_string(), RestrictedExpression::new_string("Open".to_string())),
    ]);
    Entity::new(cart_uid(k), attrs, HashSet::new()).unwrap()
}

/// All users of the shop.
pub fn all_users() -> impl Iterator<Item = u64> {
    1..=USERS
}
