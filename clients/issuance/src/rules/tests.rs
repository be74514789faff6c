//! Hand-written validator cases: for every rule an accepted and a rejected example, the examples
//! of the MOSIP documentation, the check order, disabled rules and configuration checks.

use super::*;

/// `body` with its Verhoeff check digit appended.
fn uin(body: &str) -> String {
    format!("{body}{}", verhoeff::check_digit(body).unwrap())
}

/// Rules with every optional rule disabled, `length` digits.
fn bare(length: usize) -> UinRules {
    UinRules {
        length,
        not_start_with: vec![],
        sequence_limit: 0,
        repeating_limit: 0,
        repeating_block_limit: 0,
        restricted_numbers: vec![],
    }
}

fn rule_of(rules: &UinRules, uin: &str) -> &'static str {
    match rules.validate(uin) {
        Ok(()) => "valid",
        Err(v) => v.rule_name(),
    }
}

#[test]
fn defaults_are_mosips() {
    let r = UinRules::default();
    assert_eq!(r.length, 10);
    assert_eq!(r.not_start_with, vec![0, 1]);
    assert_eq!(r.sequence_limit, 3);
    assert_eq!(r.repeating_limit, 2);
    assert_eq!(r.repeating_block_limit, 2);
    assert_eq!(r.restricted_numbers, vec!["786", "666"]);
    assert_eq!(r.check(), Ok(()));
}

#[test]
fn accepts_valid_uins() {
    let r = UinRules::default();
    for u in ["2947581390", "5930257142", "3029584719"] {
        assert_eq!(r.validate(u), Ok(()), "{u}");
    }
}

#[test]
fn rejects_non_digits_before_length() {
    let r = UinRules::default();
    assert_eq!(
        r.validate("29475a1390"),
        Err(RuleViolation::NonDigit {
            position: 6,
            character: 'a'
        })
    );
    // A wrong length with a non-digit reports the non-digit (checked first).
    assert_eq!(rule_of(&r, "29-4"), "digits");
    assert_eq!(rule_of(&r, "２947581390"), "digits");
    assert_eq!(rule_of(&r, " 2947581390"), "digits");
}

#[test]
fn rejects_wrong_length() {
    let r = UinRules::default();
    assert_eq!(
        r.validate("294758139"),
        Err(RuleViolation::Length {
            expected: 10,
            actual: 9
        })
    );
    assert_eq!(rule_of(&r, "29475813900"), "length");
    assert_eq!(rule_of(&r, ""), "length");
}

#[test]
fn rejects_first_digit_zero_or_one() {
    let r = UinRules::default();
    let zero = uin("094758132");
    let one = uin("194758132");
    assert_eq!(
        r.validate(&zero),
        Err(RuleViolation::NotStartWith { digit: '0' })
    );
    assert_eq!(rule_of(&r, &one), "not-start-with");
    // Empty list disables: the same numbers then pass this rule.
    let open = UinRules {
        not_start_with: vec![],
        ..UinRules::default()
    };
    assert_ne!(rule_of(&open, &zero), "not-start-with");
    assert_ne!(rule_of(&open, &one), "not-start-with");
}

#[test]
fn rejects_bad_check_digit() {
    let r = UinRules::default();
    assert_eq!(
        r.validate("2947581391"),
        Err(RuleViolation::CheckDigit {
            expected: '0',
            found: '1'
        })
    );
    // A transposition of two body digits is caught by the check digit.
    assert_eq!(rule_of(&r, "2497581390"), "check-digit");
}

#[test]
fn sequence_limit() {
    let r = UinRules {
        sequence_limit: 3,
        ..bare(10)
    };
    // 123 ascending, 321 descending, 987 descending, anywhere.
    assert_eq!(
        r.validate(&uin("290345802")),
        Err(RuleViolation::Sequence {
            limit: 3,
            ascending: true,
            run: "345".to_owned(),
            position: 4
        })
    );
    assert_eq!(
        r.validate(&uin("212320592")).unwrap_err().to_string(),
        "sequence limit 3: ascending run 123 at position 2"
    );
    assert_eq!(
        r.validate(&uin("254032150")).unwrap_err().to_string(),
        "sequence limit 3: descending run 321 at position 5"
    );
    assert_eq!(rule_of(&r, &uin("298752402")), "sequence-limit");
    // Runs of two are allowed, and 9-0-1 does not wrap around.
    assert_eq!(rule_of(&r, &uin("212454989")), "valid");
    assert_eq!(rule_of(&r, &uin("289017502")), "valid");
    // Limit 4 allows runs of three.
    let four = UinRules {
        sequence_limit: 4,
        ..bare(10)
    };
    assert_eq!(rule_of(&four, &uin("212320592")), "valid");
    assert_eq!(rule_of(&four, &uin("212340592")), "sequence-limit");
    assert_eq!(rule_of(&bare(10), &uin("123456789")), "valid");
}

#[test]
fn repeating_limit() {
    let r = UinRules {
        repeating_limit: 2,
        ..bare(10)
    };
    // `11` and `1x1` are rejected, `1xx1` is allowed.
    assert_eq!(
        r.validate(&uin("294411302")),
        Err(RuleViolation::Repeating {
            limit: 2,
            digit: '4',
            first: 3,
            second: 4
        })
    );
    assert_eq!(
        r.validate(&uin("291712302")).unwrap_err().to_string(),
        "repeating limit 2: digit 1 at positions 3 and 5 (fewer than 2 digits between)"
    );
    assert_eq!(rule_of(&r, &uin("291741302")), "repeating-limit");
    assert_eq!(rule_of(&r, &uin("29175138")), "length");
    let ok = uin("291751382");
    assert_eq!(rule_of(&r, &ok), "valid", "{ok}");
    let three = UinRules {
        repeating_limit: 3,
        ..bare(10)
    };
    assert_eq!(rule_of(&three, &uin("291751382")), "repeating-limit");
    assert_eq!(rule_of(&bare(10), &uin("221111111")), "valid");
}

#[test]
fn repeating_block_limit() {
    let r = UinRules {
        repeating_block_limit: 2,
        ..bare(10)
    };
    // `48xxx48` is rejected, `4xxx4` is allowed.
    assert_eq!(
        r.validate(&uin("248035487")),
        Err(RuleViolation::RepeatingBlock {
            limit: 2,
            block: "48".to_owned(),
            first: 2,
            second: 7
        })
    );
    assert_eq!(rule_of(&r, &uin("248035407")), "valid");
    // Adjacent repetition counts: 4848.
    assert_eq!(rule_of(&r, &uin("248483907")), "repeating-block-limit");
    let three = UinRules {
        repeating_block_limit: 3,
        ..bare(10)
    };
    assert_eq!(rule_of(&three, &uin("248035487")), "valid");
    assert_eq!(rule_of(&three, &uin("248035248")), "repeating-block-limit");
}

#[test]
fn restricted_numbers() {
    let r = UinRules {
        restricted_numbers: vec!["786".to_owned(), "666".to_owned()],
        ..bare(10)
    };
    assert_eq!(
        r.validate(&uin("294786130")),
        Err(RuleViolation::Restricted {
            number: "786".to_owned(),
            position: 4
        })
    );
    assert_eq!(
        r.validate(&uin("266630592")).unwrap_err().to_string(),
        "restricted number 666 at position 2"
    );
    assert_eq!(rule_of(&r, &uin("294768130")), "valid");
    assert_eq!(rule_of(&r, &uin("266230592")), "valid");
    assert_eq!(rule_of(&bare(10), &uin("294786130")), "valid");
}

#[test]
fn defaults_reject_the_documented_examples() {
    let r = UinRules::default();
    for (body, rule) in [
        ("212320592", "sequence-limit"),
        ("254032150", "sequence-limit"),
        ("294411302", "repeating-limit"),
        ("291714302", "repeating-limit"),
        ("248035480", "repeating-block-limit"),
        ("294786130", "restricted-numbers"),
        ("266530592", "repeating-limit"),
    ] {
        assert_eq!(rule_of(&r, &uin(body)), rule, "{body}");
    }
}

#[test]
fn first_broken_rule_wins_in_the_documented_order() {
    let r = UinRules::default();
    // 0 start + bad check digit + run 123 + repeat 11: not-start-with comes first.
    assert_eq!(rule_of(&r, "0123114869"), "not-start-with");
    // Bad check digit with a run: check digit first.
    let good = uin("212320592");
    let mut bad = good.clone().into_bytes();
    bad[9] = if bad[9] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        rule_of(&r, std::str::from_utf8(&bad).unwrap()),
        "check-digit"
    );
    // Run and restricted number: sequence first; repeat and restricted: repeating first.
    assert_eq!(rule_of(&r, &uin("234786592")), "sequence-limit");
    assert_eq!(rule_of(&r, &uin("266603592")), "repeating-limit");
    // Every reported name is in RULE_NAMES, in order.
    let names: Vec<_> = RULE_NAMES.to_vec();
    assert_eq!(names[0], "digits");
    assert_eq!(names[7], "restricted-numbers");
}

#[test]
fn config_check_rejects_unusable_rules() {
    let ok = UinRules::default();
    let cases = [
        (
            UinRules {
                length: 1,
                ..ok.clone()
            },
            RulesError::Length {
                length: 1,
                min: 2,
                max: MAX_UIN_LENGTH,
            },
        ),
        (
            UinRules {
                length: MAX_UIN_LENGTH + 1,
                ..ok.clone()
            },
            RulesError::Length {
                length: MAX_UIN_LENGTH + 1,
                min: 2,
                max: MAX_UIN_LENGTH,
            },
        ),
        (
            UinRules {
                not_start_with: vec![0, 10],
                ..ok.clone()
            },
            RulesError::NotStartWithDigit(10),
        ),
        (
            UinRules {
                not_start_with: (0..10).collect(),
                ..ok.clone()
            },
            RulesError::NoFirstDigit,
        ),
        (
            UinRules {
                sequence_limit: 1,
                ..ok.clone()
            },
            RulesError::SequenceLimitOne,
        ),
        (
            UinRules {
                restricted_numbers: vec!["78a".to_owned()],
                ..ok.clone()
            },
            RulesError::RestrictedNumber("78a".to_owned()),
        ),
        (
            UinRules {
                restricted_numbers: vec![String::new()],
                ..ok.clone()
            },
            RulesError::RestrictedNumber(String::new()),
        ),
    ];
    for (rules, err) in cases {
        assert_eq!(rules.check(), Err(err));
    }
    assert_eq!(bare(2).check(), Ok(()));
}

#[test]
fn deserialises_kebab_case_with_defaults_and_rejects_unknown_fields() {
    let r: UinRules =
        serde_json::from_str(r#"{"length": 12, "restricted-numbers": ["007"]}"#).unwrap();
    assert_eq!(r.length, 12);
    assert_eq!(r.restricted_numbers, vec!["007"]);
    assert_eq!(r.sequence_limit, 3);
    assert_eq!(r.not_start_with, vec![0, 1]);
    let all: UinRules = serde_json::from_str(
        r#"{"length": 8, "not-start-with": [0], "sequence-limit": 0, "repeating-limit": 3,
            "repeating-block-limit": 0, "restricted-numbers": []}"#,
    )
    .unwrap();
    assert_eq!(
        all,
        UinRules {
            length: 8,
            not_start_with: vec![0],
            sequence_limit: 0,
            repeating_limit: 3,
            repeating_block_limit: 0,
            restricted_numbers: vec![],
        }
    );
    assert!(serde_json::from_str::<UinRules>(r#"{"lenght": 12}"#).is_err());
    let back: UinRules =
        serde_json::from_str(&serde_json::to_string(&UinRules::default()).unwrap()).unwrap();
    assert_eq!(back, UinRules::default());
}
