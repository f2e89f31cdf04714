//! Unit tests of the key codec, the requests and the map's folding.
use super::*;

fn ip(text: &str) -> IpAddr {
    IpAddr::parse(text).unwrap()
}

#[test]
fn keys_sort_like_addresses_and_read_back() {
    let addresses = ["0.0.0.0", "10.0.0.9", "10.0.0.10", "192.168.101.192", "255.255.255.255", "::", "::1", "fd00::1", "ffff::"];
    let keys: Vec<String> = addresses.iter().map(|a| address_key(ip(a))).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, keys, "text order is address order, IPv4 first");
    for (address, key) in addresses.iter().zip(&keys) {
        assert_eq!(key.len(), 33);
        let (family, value) = parse_key(key).unwrap();
        assert_eq!(IpAddr::from_u128(family, value), Some(ip(address)));
    }
    assert_eq!(parse_key("x000"), None);
}

#[test]
fn requests_report_every_field() {
    let input = AllocationInput {
        address: Some("10.0.0.300".into()),
        owner: Some("  ".into()),
        application: Some("Api".into()),
        reason: Some("x".repeat(MAX_REASON_LEN + 1)),
    };
    let errors = AllocationRequest::try_from(input).unwrap_err();
    let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
    assert_eq!(
        fields,
        [("address", "invalid_ip"), ("owner", "required"), ("application", "invalid_k8s_name"), ("reason", "too_long")]
    );
    let ok = AllocationRequest::try_from(AllocationInput { owner: Some(" team-a ".into()), ..Default::default() }).unwrap();
    assert_eq!((ok.owner.as_str(), ok.address, ok.application), ("team-a", None, None));

    let range = |start: &str, stop: &str| ReservationInput {
        start: Some(start.into()),
        stop: Some(stop.into()),
        reason: Some("router".into()),
    };
    assert_eq!(ReservationRequest::try_from(range("10.0.0.1", "10.0.255.255")).unwrap().count(), 65_535);
    assert_eq!(ReservationRequest::try_from(range("10.0.0.0", "10.0.255.255")).unwrap().count(), MAX_RANGE);
    let too_large = ReservationRequest::try_from(range("10.0.0.0", "10.1.0.0")).unwrap_err();
    assert_eq!(too_large.get("stop").unwrap().code, "range_too_large");
    let backwards = ReservationRequest::try_from(range("10.0.0.9", "10.0.0.1")).unwrap_err();
    assert_eq!(backwards.get("stop").unwrap().code, "invalid_ip_range");
    let mixed = ReservationRequest::try_from(range("10.0.0.1", "fd00::1")).unwrap_err();
    assert_eq!(mixed.get("stop").unwrap().code, "family_mismatch");
    let single = ReservationRequest::try_from(ReservationInput { start: Some("fd00::5".into()), ..range("", "") }).unwrap();
    assert_eq!((single.start, single.stop, single.count()), (ip("fd00::5"), ip("fd00::5"), 1));
}

fn pool(blocks: serde_json::Value) -> VipPool {
    serde_json::from_value(serde_json::json!({"environment": "dev", "name": "vips", "blocks": blocks})).unwrap()
}

#[test]
fn extents_are_in_address_order_and_ranges_may_span_adjacent_blocks() {
    let pool = pool(serde_json::json!([
        {"cidr": "fd00::/126"}, {"start": "10.0.0.16", "stop": "10.0.0.20"}, {"cidr": "10.0.0.0/28"}
    ]));
    let firsts: Vec<u128> = extents(&pool).iter().map(|e| e.first).collect();
    assert_eq!(firsts, [ip("10.0.0.0").to_u128(), ip("10.0.0.16").to_u128(), ip("fd00::").to_u128()]);
    assert_eq!(first_outside(&pool, ip("10.0.0.3"), ip("10.0.0.20")), None, "10.0.0.0/28 and .16-.20 touch");
    assert_eq!(first_outside(&pool, ip("10.0.0.3"), ip("10.0.0.21")), Some(ip("10.0.0.21")));
    assert_eq!(first_outside(&pool, ip("fd00::1"), ip("fd00::3")), None);
}

#[test]
fn a_prefetch_serves_only_what_it_covers() {
    let v4 = |last: u8| (IpFamily::Ipv4, u128::from(last));
    let read = Prefetch { from: Some(v4(10)), keys: vec![v4(10), v4(11), v4(14)], complete: false };
    assert_eq!(read.serve(IpFamily::Ipv4, 5, 20), None, "starts before what was read");
    assert_eq!(read.serve(IpFamily::Ipv4, 10, 20), Some((vec![10, 11, 14], true)), "more may follow 14");
    assert_eq!(read.serve(IpFamily::Ipv4, 11, 13), Some((vec![11], false)), "14 proves nothing else is below it");
    assert_eq!(read.serve(IpFamily::Ipv4, 15, 20), None, "past what was read");
    let complete = Prefetch { complete: true, ..read };
    assert_eq!(complete.serve(IpFamily::Ipv4, 15, 20), Some((vec![], false)));
    assert_eq!(complete.serve(IpFamily::Ipv6, 0, 9), Some((vec![], false)));
}

#[test]
fn runs_keep_the_holder_fields_they_share() {
    let held = |last: &str, owner: &str| {
        MapEntry::held(Holding {
            address: ip(&format!("10.0.0.{last}")),
            pool: 1,
            state: AddressState::Allocated,
            owner: Some(owner.to_owned()),
            application: None,
            reason: Some("api".to_owned()),
            since: "2026-01-01T00:00:00Z".to_owned(),
            by: "anonymous".to_owned(),
        })
        .into_run()
    };
    let mut run = held("1", "team-a");
    run.absorb(&held("2", "team-a"));
    assert_eq!((run.start, run.stop, run.count), (Some(ip("10.0.0.1")), Some(ip("10.0.0.2")), Some(2)));
    assert_eq!(run.owner.as_deref(), Some("team-a"));
    run.absorb(&held("3", "team-b"));
    assert_eq!((run.count, run.owner.as_deref(), run.reason.as_deref()), (Some(3), None, Some("api")));
    let free = MapEntry::free(IpFamily::Ipv4, 4, 7, true);
    assert_eq!((free.len(), free[0].count), (1, Some(4)));
    assert_eq!(MapEntry::free(IpFamily::Ipv4, 4, 7, false).len(), 4);
}

#[test]
fn messages_say_who_holds_an_address_and_where_to_go() {
    let holder = Holding {
        address: ip("10.0.0.7"),
        pool: 3,
        state: AddressState::Allocated,
        owner: Some("team-a".into()),
        application: Some(K8sName::parse("api").unwrap()),
        reason: None,
        since: "2026-01-01T00:00:00Z".into(),
        by: "anonymous".into(),
    };
    let taken =
        AllocationError::Taken { field: "address", address: holder.address, holder: Some(Box::new(holder)), hint: "pick another" };
    assert_eq!(
        taken.to_string(),
        "10.0.0.7 is allocated to team-a (application api) in pool 3 since 2026-01-01T00:00:00Z by anonymous; pick another"
    );
    let room = PoolRoom { id: 7, name: "dev-more".into(), free: 1 };
    let exhausted = exhausted_text("dev-vips", "dev", 16, Some(&room));
    assert!(exhausted.contains("all 16") && exhausted.contains("dev-more (id 7) of dev has 1 free address —"), "{exhausted}");
    assert!(exhausted_text("dev-vips", "dev", 16, None).contains("no other pool of dev has room"));
}
