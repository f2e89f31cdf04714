//! Words for people: counts with their noun in the right number.

/// `1 object`, `7 objects`, `0 objects`: a count and its noun, made plural with an `s`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "object"), "1 object");
        assert_eq!(counted(0, "field"), "0 fields");
        assert_eq!(counted(7, "VIP"), "7 VIPs");
    }
}
