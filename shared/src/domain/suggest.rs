//! "Did you mean": the nearest of the names a user could have meant, by edit distance (strsim's Levenshtein).

/// Edits further than this are not offered as what the user meant.
const MAX_EDITS: usize = 3;

/// The candidate nearest to `word`, when it is within a few edits.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= MAX_EDITS)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_close_name_is_offered_and_far_ones_are_not() {
        let keys = ["schedule", "timezone", "cpu", "memory"];
        assert_eq!(nearest("schedul", keys), Some("schedule"));
        assert_eq!(nearest("time_zone", keys), Some("timezone"));
        assert_eq!(nearest("entrypoint", keys), None);
    }
}
