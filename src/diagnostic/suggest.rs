//! "did you mean" suggestions from a fuzzy match over the names in scope.

/// The closest candidate to `name`, if one is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            let local = c.rsplit('.').next().unwrap_or(c);
            let mut distance = strsim::damerau_levenshtein(&lower, &c.to_lowercase())
                .min(strsim::damerau_levenshtein(&lower, &local.to_lowercase()));
            // `Shop.Paid` for `Shop.Status.Paid`: the same last part, fewer qualifiers.
            if name.contains('.') && name.rsplit('.').next().map(str::to_lowercase) == Some(local.to_lowercase()) {
                distance = distance.min(1);
            }
            (distance, c)
        })
        .map(|(d, c)| {
            // A name that starts another (`Bool`, `Boolean`) is as good as a typo.
            let local = c.rsplit('.').next().unwrap_or(c).to_lowercase();
            let prefix = lower.len() >= 3 && (local.starts_with(&lower) || lower.starts_with(&local));
            (if prefix { d.min(limit) } else { d }, c)
        })
        .filter(|(d, _)| *d <= limit)
        // The name breaks ties: candidates often come from a hash map, in no fixed order.
        .min_by_key(|(d, c)| (*d, c.len(), *c))
        .map(|(_, c)| c)
}

/// `; did you mean `X`?` for the closest candidate, or nothing: the tail of a message.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

/// `did you mean `X`?` for the closest candidate.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `did you mean `$X`?` for variables.
pub(crate) fn did_you_mean_var<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `${c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos() {
        assert_eq!(closest("Totl", ["Total", "Status"]), Some("Total"));
        assert_eq!(closest("Vistor", ["Shop.Visitor", "Shop.Buyer"]), Some("Shop.Visitor"));
        assert_eq!(closest("cart", ["carts", "From"]), Some("carts"));
        assert_eq!(closest("Quantity", ["Total", "Status"]), None);
    }
}
