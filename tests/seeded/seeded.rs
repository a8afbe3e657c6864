//! A tiny clnrm test target whose failures are switched on from outside: with
//! `CLNRM_SEED_FAILURE=1` the two checkout tests fail with the same cause; without it every test
//! passes, so the normal test run stays green. `tests/e2e/ai_cli.rs` runs it through
//! `clnrm ai-orchestrate --target clnrm-seeded::seeded`. It uses no service: no Docker, no waiting.

/// The same failure message for every caller, but for `what`: one likely cause.
fn fail_when_seeded(what: &str) -> Result<(), String> {
    match std::env::var("CLNRM_SEED_FAILURE") {
        Ok(value) if value == "1" => Err(format!(
            "seeded failure: CLNRM_SEED_FAILURE=1 is set, so the checkout {what} is wrong on purpose"
        )),
        _ => Ok(()),
    }
}

mod checkout {
    #[clnrm::test]
    async fn totals_the_basket() -> Result<(), String> {
        super::fail_when_seeded("total")
    }

    #[clnrm::test]
    async fn applies_the_discount() -> Result<(), String> {
        super::fail_when_seeded("discount")
    }
}

mod catalog {
    #[clnrm::test]
    async fn lists_items_in_name_order() -> Result<(), String> {
        let mut items = vec!["pear", "apple", "fig"];
        items.sort_unstable();
        if items == ["apple", "fig", "pear"] {
            Ok(())
        } else {
            Err(format!("items sorted as {items:?}"))
        }
    }
}

clnrm::main!();
