//! The Verhoeff check digit (J. Verhoeff, 1969), the check digit MOSIP appends to every UIN.
//!
//! Why Verhoeff and not Luhn or a mod-11 digit: it stays in the decimal alphabet and detects every
//! single-digit substitution and every transposition of two adjacent digits (Luhn misses `09`/`90`;
//! mod-11 needs an eleventh symbol). It works in the dihedral group D5 of the symmetries of a
//! pentagon: digits 0-4 are the rotations, 5-9 the reflections. Each digit is first permuted by a
//! position-dependent permutation (powers of one fixed permutation, so the table repeats every 8
//! positions) and the results are multiplied in D5; a number is valid when the product is the
//! identity.
//!
//! The three tables below are written from that definition, and the tests rebuild them from the
//! group and the permutation to show they match.
//!
//! All functions take digits as ASCII bytes (`b'0'..=b'9'`) or `&str`; they return `None` / `false`
//! for anything that is not a non-empty string of ASCII digits, never panic.

/// Multiplication table of D5: `D[j][k]` is the product of group elements `j` and `k`.
const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Position permutations: row `i` is the permutation `(1 5 7 6 2 8 3 0 9 4)` applied `i` times;
/// the eighth power is the identity, so position `n` uses row `n % 8`.
const P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Inverses in D5: `D[j][INV[j]] == 0`.
const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Folds the digits right to left, the rightmost one taking permutation row `offset`.
/// `None` if a byte is not an ASCII digit.
fn fold(digits: &[u8], offset: usize) -> Option<u8> {
    let mut c = 0u8;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        c = D[c as usize][P[(i + offset) % 8][(b - b'0') as usize] as usize];
    }
    Some(c)
}

/// The check digit (as an ASCII byte) to append to `body` (ASCII digits).
/// `None` if `body` is empty or holds a non-digit.
pub fn check_digit_ascii(body: &[u8]) -> Option<u8> {
    if body.is_empty() {
        return None;
    }
    // The check digit will take position 0, so the body's rightmost digit is at position 1.
    fold(body, 1).map(|c| INV[c as usize] + b'0')
}

/// The check digit (`'0'..='9'`) to append to `body`. `None` if `body` is empty or not all digits.
pub fn check_digit(body: &str) -> Option<char> {
    check_digit_ascii(body.as_bytes()).map(char::from)
}

/// Whether `number` (ASCII digits, its last one the check digit) carries a correct Verhoeff check
/// digit. `false` for fewer than two digits or any non-digit.
pub fn is_valid_ascii(number: &[u8]) -> bool {
    number.len() >= 2 && fold(number, 0) == Some(0)
}

/// Whether `number` (its last digit the check digit) carries a correct Verhoeff check digit.
pub fn is_valid(number: &str) -> bool {
    is_valid_ascii(number.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// D5 built from its definition: rotation `r^a` is `a` (0..5), reflection `r^a s` is `5 + a`,
    /// with `s r = r^-1 s`.
    fn dihedral_product(j: usize, k: usize) -> usize {
        let (js, ja) = (j >= 5, j % 5);
        let (ks, kb) = (k >= 5, k % 5);
        // r^a s r^b = r^(a - b) s, r^a r^b = r^(a + b); s s = 1.
        let a = if js { (ja + 5 - kb) % 5 } else { (ja + kb) % 5 };
        if js ^ ks {
            5 + a
        } else {
            a
        }
    }

    #[test]
    fn d_table_is_the_dihedral_group_d5() {
        for (j, row) in D.iter().enumerate() {
            for (k, &product) in row.iter().enumerate() {
                assert_eq!(product as usize, dihedral_product(j, k), "D[{j}][{k}]");
            }
        }
    }

    #[test]
    fn p_rows_are_powers_of_the_first_permutation() {
        for i in 1..8 {
            for n in 0..10 {
                assert_eq!(P[i][n], P[1][P[i - 1][n] as usize], "P[{i}][{n}]");
            }
        }
        // The eighth power is the identity, so the table is periodic with period 8.
        for n in 0..10 {
            assert_eq!(P[1][P[7][n] as usize] as usize, n);
        }
    }

    #[test]
    fn inv_table_inverts() {
        for j in 0..10 {
            assert_eq!(D[j][INV[j] as usize], 0, "INV[{j}]");
        }
    }

    #[test]
    fn known_vectors() {
        // Widely published examples of the algorithm.
        assert_eq!(check_digit("236"), Some('3'));
        assert_eq!(check_digit("12345"), Some('1'));
        assert_eq!(check_digit("142857"), Some('0'));
        assert!(is_valid("2363"));
        assert!(is_valid("123451"));
        assert!(is_valid("1428570"));
        assert!(!is_valid("2364"));
        assert!(!is_valid("2633"));
    }

    #[test]
    fn rejects_non_digits_and_short_input() {
        assert_eq!(check_digit(""), None);
        assert_eq!(check_digit("12a4"), None);
        assert!(!is_valid(""));
        assert!(!is_valid("0"));
        assert!(!is_valid("23 63"));
        assert!(!is_valid("٣٣"));
    }

    /// A random body of 1..=30 digits with its check digit appended.
    fn with_check(body: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = body.iter().map(|d| d + b'0').collect();
        let c = check_digit_ascii(&v).expect("digits");
        v.push(c);
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn appended_check_digit_validates(body in proptest::collection::vec(0u8..10, 1..30)) {
            prop_assert!(is_valid_ascii(&with_check(&body)));
        }

        #[test]
        fn detects_every_single_substitution(body in proptest::collection::vec(0u8..10, 1..30)) {
            let good = with_check(&body);
            for pos in 0..good.len() {
                for digit in b'0'..=b'9' {
                    if digit == good[pos] {
                        continue;
                    }
                    let mut bad = good.clone();
                    bad[pos] = digit;
                    prop_assert!(!is_valid_ascii(&bad), "substitution at {} undetected", pos);
                }
            }
        }

        #[test]
        fn detects_every_adjacent_transposition(body in proptest::collection::vec(0u8..10, 1..30)) {
            let good = with_check(&body);
            for pos in 0..good.len() - 1 {
                if good[pos] == good[pos + 1] {
                    continue;
                }
                let mut bad = good.clone();
                bad.swap(pos, pos + 1);
                prop_assert!(!is_valid_ascii(&bad), "transposition at {} undetected", pos);
            }
        }
    }
}
