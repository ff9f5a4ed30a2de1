//! The contract's documents (`status`, `crashes`) and their builders live in
//! `fleet-docs`, which every view reads; this path stays for the campaign and the binary.

pub use fleet_docs::report::*;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use fleet_store::Db;

    use super::{TierBudget, schedule_places};
    use crate::schedule::{SCHEDULE_VERSION, TierState};

    /// The documents read the schedule state the campaign saves: the same version, the
    /// same fields, so `status` shows each target's turn as the campaign counts it.
    #[test]
    fn schedule_places_read_the_state_the_campaign_saves() {
        assert_eq!(SCHEDULE_VERSION, fleet_docs::report::SCHEDULE_VERSION);
        let dir = fleet_testkit::temp_dir();
        let db = Db::open(&dir.path().join("state.db")).unwrap();
        let mut state = TierState::new();
        state.cycle = 3;
        state.consumed_ms = BTreeMap::from([("a".to_string(), 61_500)]);
        db.save_schedule("t1", &state.to_json(), 0).unwrap();
        let tiers = [TierBudget {
            name: "t1".into(),
            budget: Duration::from_secs(3600),
            targets: vec!["a".into(), "b".into()],
        }];
        let places = schedule_places(&db, &tiers).unwrap();
        let a = &places["a"];
        assert_eq!((a.cycle, a.used_s, a.left_s), (3, 61, 3539));
        assert_eq!((places["b"].cycle, places["b"].used_s), (3, 0));
    }
}
