//! Moving the spans of parsed declarations by a number of bytes, for the language server's
//! parse of one edited access rule: the declarations after it move with the edit. Only the
//! declarations that can follow a rule in the programs an editor holds most (rules, entities,
//! associations, enumerations, module roles, user roles, workflows) are handled; `shift`
//! answers `false` for the others, and the caller parses the whole file instead.

use crate::source::Span;
use crate::syntax::ast::*;

/// Moves every span of a tree by `by` bytes; `false` (and a tree half moved) when it holds a
/// kind of declaration that is not handled.
pub(crate) trait Shift {
    fn shift(&mut self, by: i64) -> bool;
}

impl Shift for Span {
    fn shift(&mut self, by: i64) -> bool {
        let (Ok(start), Ok(end)) = (u32::try_from(i64::from(self.start) + by), u32::try_from(i64::from(self.end) + by))
        else {
            return false;
        };
        self.start = start;
        self.end = end;
        true
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: i64) -> bool {
        self.iter_mut().all(|x| x.shift(by))
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: i64) -> bool {
        self.as_mut().is_none_or(|x| x.shift(by))
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: i64) -> bool {
        self.as_mut().shift(by)
    }
}

macro_rules! spans {
    ($($ty:ty { $($field:ident),* })*) => {
        $(impl Shift for $ty {
            fn shift(&mut self, by: i64) -> bool {
                true $(&& self.$field.shift(by))*
            }
        })*
    };
}

spans! {
    Ident { span }
    QName { span }
    StrLit { span }
    NumLit { span }
    TypeRef { name, length, span }
    Attribute { name, ty, default, span }
    Entity { name, extends, stores, attributes, span }
    Enumeration { name, values, span }
    Association { name, from, to, on_delete, span }
    DeleteBehaviour { end, action, span }
    UserRole { name, module_roles, manages, span }
    AccessRule { entity, roles, create, delete, read, write, constraints, span }
    XPath { expr, span }
    XPathPath { steps, span }
    XStep { name, predicates }
    TokenExpr { terms, span }
    TokenTerm { factor, token }
}

impl Shift for Literal {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            Literal::String(s) => s.shift(by),
            Literal::Number(n) => n.shift(by),
            Literal::Bool(_, s) | Literal::Empty(s) => s.shift(by),
            Literal::Name(q) => q.shift(by),
        }
    }
}

impl Shift for DeleteAction {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            DeleteAction::Keep | DeleteAction::Cascade => true,
            DeleteAction::Prevent(message) => message.shift(by),
        }
    }
}

impl Shift for Manages {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            Manages::All(s) => s.shift(by),
            Manages::Roles(roles) => roles.shift(by),
        }
    }
}

impl Shift for MemberList {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            MemberList::All(s) => s.shift(by),
            MemberList::Members(names) => names.shift(by),
        }
    }
}

impl Shift for XExpr {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            XExpr::Or(xs) | XExpr::And(xs) => xs.shift(by),
            XExpr::Not(x, s) => x.shift(by) && s.shift(by),
            XExpr::Compare { lhs, rhs, span, .. } => lhs.shift(by) && rhs.shift(by) && span.shift(by),
            XExpr::Operand(o) => o.shift(by),
        }
    }
}

impl Shift for XOperand {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            XOperand::Path(p) => p.shift(by),
            XOperand::Value(v) => v.shift(by),
            XOperand::Bool(_, s) => s.shift(by),
            XOperand::Function { name, args, span } => name.shift(by) && args.shift(by) && span.shift(by),
            XOperand::Arith { operands, span, .. } => operands.shift(by) && span.shift(by),
        }
    }
}

impl Shift for XValue {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            XValue::String(s) => s.shift(by),
            XValue::Tokens(t) => t.shift(by),
            XValue::Number(n) => n.shift(by),
            XValue::Variable(v) => v.shift(by),
            XValue::Empty(s) => s.shift(by),
        }
    }
}

impl Shift for ModuleItem {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            ModuleItem::Enumeration(e) => e.shift(by),
            ModuleItem::Entity(e) => e.shift(by),
            ModuleItem::Association(a) => a.shift(by),
            ModuleItem::ModuleRole(r) => r.shift(by),
            ModuleItem::Access(r) => r.shift(by),
            ModuleItem::Microflow(_) => false,
        }
    }
}

impl Shift for Item {
    fn shift(&mut self, by: i64) -> bool {
        match self {
            Item::Module(m) => m.name.shift(by) && m.items.shift(by) && m.span.shift(by),
            Item::UserRole(r) => r.shift(by),
            Item::Workflow(w) => w.shift(by),
            Item::App(_) | Item::Resource(_) | Item::Test(_) => false,
        }
    }
}

/// Whether [`Shift`] handles every declaration of an item.
pub(crate) fn shiftable(item: &Item) -> bool {
    match item {
        Item::Module(m) => m.items.iter().all(|i| !matches!(i, ModuleItem::Microflow(_))),
        Item::UserRole(_) | Item::Workflow(_) => true,
        Item::App(_) | Item::Resource(_) | Item::Test(_) => false,
    }
}
