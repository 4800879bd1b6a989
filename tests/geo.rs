//! GEO commands end to end, against a real redis-server holding the same
//! data: stored scores, GEOSEARCH/GEORADIUS results (members, distances,
//! hashes, coordinates, order), GEODIST/GEOPOS/GEOHASH and error replies must
//! be byte for byte Redis's in RESP2 and RESP3, and the writes must reach
//! replicas in the form Redis feeds them.

mod common;

use common::repl::skip_snapshot;
use common::{call, events_until_end, raw, stream_until_end, Redis, Server};

/// Deterministic pseudo-random numbers (a 64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn around(&mut self, centre: f64, spread: f64, min: f64, max: f64) -> f64 {
        (centre + (self.unit() * 2.0 - 1.0) * spread).clamp(min, max)
    }
}

/// GEOADD commands for points clustered around a city, the antimeridian and
/// a pole, with some points sharing coordinates (equal distances).
fn dataset() -> Vec<Vec<String>> {
    let mut rng = Lcg(7);
    let centres = [
        (13.361389, 38.115556),
        (179.9, -12.5),
        (-40.0, 84.0),
        (0.0, 0.0),
    ];
    let mut commands = Vec::new();
    for (c, (lon, lat)) in centres.iter().enumerate() {
        let mut geoadd = vec!["GEOADD".to_string(), "points".to_string()];
        for i in 0..150 {
            let lon = rng.around(*lon, 3.0, -180.0, 180.0);
            let lat = rng.around(*lat, 2.0, -85.05, 85.05);
            let (lon, lat) = (format!("{lon:.6}"), format!("{lat:.6}"));
            geoadd.extend([lon.clone(), lat.clone(), format!("p{c}-{i}")]);
            if i % 10 == 0 {
                geoadd.extend([lon, lat, format!("twin{c}-{i}")]);
            }
        }
        commands.push(geoadd);
    }
    commands
}

/// The requests whose replies are compared (each alone, on a fresh state).
fn queries() -> Vec<Vec<&'static str>> {
    let lines = [
        "ZRANGE points 0 -1 WITHSCORES",
        "GEOPOS points p0-1 p1-2 twin2-10 nosuch p3-149",
        "GEOHASH points p0-1 p1-2 twin2-10 nosuch p3-149",
        "GEODIST points p0-1 p0-2",
        "GEODIST points p0-1 p1-2 km",
        "GEODIST points p2-3 p3-4 mi",
        "GEODIST points p2-3 twin2-0 ft",
        "GEODIST points p2-3 nosuch",
        "GEODIST points p2-3 p3-4 parsecs",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 200 km ASC",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 200 km DESC WITHCOORD WITHDIST WITHHASH",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 150 mi",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 300 km COUNT 7",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 300 km COUNT 7 DESC WITHDIST",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYRADIUS 300 km COUNT 5 ANY WITHDIST",
        "GEOSEARCH points FROMLONLAT 13.361389 38.115556 BYBOX 400 200 km ASC WITHCOORD",
        "GEOSEARCH points FROMMEMBER twin0-20 BYRADIUS 100 km ASC WITHDIST",
        "GEOSEARCH points FROMMEMBER twin0-20 BYRADIUS 100000 ft COUNT 3 WITHDIST",
        "GEOSEARCH points FROMLONLAT -179.95 -12.5 BYRADIUS 250 km ASC WITHDIST",
        "GEOSEARCH points FROMLONLAT 180 -12 BYBOX 500 500 km DESC WITHCOORD",
        "GEOSEARCH points FROMLONLAT -40 84.5 BYRADIUS 300 km ASC WITHDIST WITHCOORD",
        "GEOSEARCH points FROMLONLAT 0 0 BYBOX 20000 20000 km COUNT 40 WITHDIST",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 0 m",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 5000 km WITHHASH",
        "GEOSEARCH nosuch FROMLONLAT 0 0 BYRADIUS 5000 km",
        "GEOSEARCH nosuch FROMMEMBER x BYRADIUS 5000 km",
        "GEOSEARCH points FROMMEMBER nosuch BYRADIUS 5000 km",
        "GEOSEARCH points FROMLONLAT 0 0 FROMMEMBER p0-1 BYRADIUS 1 km",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 1 km BYBOX 1 1 km",
        "geosearch points BYRADIUS 1 km",
        "GEOSEARCH points FROMLONLAT 0 0",
        "GEOSEARCH points FROMLONLAT 200 0 BYRADIUS 1 km",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS -1 km",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS x km",
        "GEOSEARCH points FROMLONLAT 0 0 BYBOX 1 -1 km",
        "GEOSEARCH points FROMLONLAT 0 0 BYBOX 1 y km",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 1 km ANY",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 1 km COUNT 0",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 1 km COUNT x",
        "GEOSEARCH points FROMLONLAT 0 0 BYRADIUS 1 km STOREDIST",
        "GEORADIUS points 13.361389 38.115556 200 km WITHDIST WITHCOORD ASC",
        "GEORADIUS points 13.361389 38.115556 200 km COUNT 4 DESC WITHHASH",
        "GEORADIUS_RO points 179.9 -12.5 100 km WITHDIST",
        "GEORADIUS_RO points 179.9 -12.5 100 km STORE dst",
        "GEORADIUSBYMEMBER points twin1-30 80 km ASC WITHDIST",
        "GEORADIUSBYMEMBER_RO points twin1-30 80 km COUNT 2 WITHCOORD",
        "GEORADIUSBYMEMBER points nosuch 80 km",
        "GEORADIUSBYMEMBER nosuch nosuch -80 parsecs",
        "GEORADIUS points 13 38 200 km STORE dst WITHDIST",
        "GEOSEARCHSTORE dst points FROMLONLAT 0 0 BYRADIUS 1 km WITHCOORD",
        "GEOADD points 181 0 x",
        "GEOADD points 0 90 x",
        "GEOADD points NX XX 0 0 x",
        "GEOADD points 0 0",
        "GEOADD points 0 0 x 1",
        "GEOADD points x 0 x",
    ];
    lines.iter().map(|l| l.split(' ').collect()).collect()
}

/// Writes whose replies, results and replication are compared.
fn writes() -> Vec<Vec<&'static str>> {
    let lines = [
        "GEOSEARCHSTORE dst points FROMLONLAT 13.361389 38.115556 BYRADIUS 200 km ASC COUNT 10",
        "ZRANGE dst 0 -1 WITHSCORES",
        "GEOSEARCHSTORE dst points FROMLONLAT 13.361389 38.115556 BYBOX 300 300 km DESC STOREDIST",
        "ZRANGE dst 0 -1 WITHSCORES",
        "GEORADIUS points 179.9 -12.5 120 km STORE dst2",
        "ZRANGE dst2 0 -1 WITHSCORES",
        "GEORADIUSBYMEMBER points p2-5 100 mi COUNT 3 STOREDIST dst3",
        "ZRANGE dst3 0 -1 WITHSCORES",
        "GEORADIUS points 0 0 1 m STORE dst3",
        "EXISTS dst3",
        "GEOSEARCHSTORE dst2 nosuch FROMMEMBER x BYRADIUS 1 km",
        "EXISTS dst2",
        "GEOADD points CH 13.361389 38.115556 p0-1 1 1 new",
        "GEOADD points XX CH 2 2 new 3 3 absent",
        "GEOADD points NX 4 4 new 5 5 other",
        "GEOPOS points new other absent",
        "GEORADIUS points 0 0 1 km",
        "SET end 1",
    ];
    lines.iter().map(|l| l.split(' ').collect()).collect()
}

/// A Ferrite server and a redis-server with `dataset()` loaded in both.
fn servers() -> (Server, Redis) {
    let (server, redis) = common::servers_with_events();
    for port in [server.port, redis.port] {
        let mut conn = raw(port);
        for geoadd in dataset() {
            let args: Vec<&str> = geoadd.iter().map(String::as_str).collect();
            assert_eq!(call(&mut conn, &args), ":165\r\n");
        }
    }
    (server, redis)
}

#[test]
fn replies_are_redis_replies_in_resp2_and_resp3() {
    let (server, redis) = servers();
    for resp3 in [false, true] {
        let (mut ours, mut theirs) = (raw(server.port), raw(redis.port));
        if resp3 {
            common::hello3(&mut ours);
            common::hello3(&mut theirs);
        }
        for query in queries() {
            assert_eq!(
                call(&mut ours, &query),
                call(&mut theirs, &query),
                "{} (RESP3: {resp3})",
                query.join(" ")
            );
        }
    }
}

/// Random searches and distances (a bounded, seeded set) over the dataset.
fn random_requests() -> Vec<Vec<String>> {
    let mut rng = Lcg(2024);
    let centres = [
        (13.361389, 38.115556),
        (179.9, -12.5),
        (-40.0, 84.0),
        (0.0, 0.0),
    ];
    let units = ["m", "km", "mi", "ft"];
    let mut requests = Vec::new();
    for i in 0..400 {
        let (lon, lat) = centres[i % centres.len()];
        let lon = format!("{:.6}", rng.around(lon, 4.0, -180.0, 180.0));
        let lat = format!("{:.6}", rng.around(lat, 3.0, -85.05, 85.05));
        let unit = units[(rng.unit() * 4.0) as usize % 4];
        let meters = rng.unit() * 600_000.0;
        let per_unit = match unit {
            "m" => 1.0,
            "km" => 1000.0,
            "mi" => 1609.34,
            _ => 0.3048,
        };
        let size = format!("{:.3}", meters / per_unit);
        let mut request: Vec<String> = if i % 3 == 0 {
            ["GEORADIUS", "points", &lon, &lat, &size, unit]
                .map(String::from)
                .to_vec()
        } else if i % 3 == 1 {
            let height = format!("{:.3}", rng.unit() * 600_000.0 / per_unit);
            [
                "GEOSEARCH",
                "points",
                "FROMLONLAT",
                &lon,
                &lat,
                "BYBOX",
                &size,
                &height,
                unit,
            ]
            .map(String::from)
            .to_vec()
        } else {
            [
                "GEOSEARCH",
                "points",
                "FROMLONLAT",
                &lon,
                &lat,
                "BYRADIUS",
                &size,
                unit,
            ]
            .map(String::from)
            .to_vec()
        };
        request.extend(["WITHDIST", "WITHHASH", "WITHCOORD"].map(String::from));
        match (rng.unit() * 4.0) as usize {
            0 => request.push("ASC".into()),
            1 => request.push("DESC".into()),
            _ => {}
        }
        if rng.unit() < 0.5 {
            let count = 1 + (rng.unit() * 30.0) as usize;
            request.extend(["COUNT".to_string(), count.to_string()]);
            if rng.unit() < 0.3 {
                request.push("ANY".into());
            }
        }
        requests.push(request);
        let member = |rng: &mut Lcg| {
            let c = (rng.unit() * 4.0) as usize % 4;
            format!("p{c}-{}", (rng.unit() * 150.0) as usize % 150)
        };
        let (a, b) = (member(&mut rng), member(&mut rng));
        requests.push(
            ["GEODIST", "points", &a, &b, unit]
                .map(String::from)
                .to_vec(),
        );
    }
    requests
}

#[test]
fn random_searches_match_redis() {
    let (server, redis) = servers();
    let (mut ours, mut theirs) = (raw(server.port), raw(redis.port));
    let mut found = 0;
    for request in random_requests() {
        let args: Vec<&str> = request.iter().map(String::as_str).collect();
        let reply = call(&mut theirs, &args);
        assert_eq!(call(&mut ours, &args), reply, "{}", request.join(" "));
        found += usize::from(args[0] != "GEODIST" && reply != "*0\r\n");
    }
    // Most searches find something: the comparison is not of empty replies.
    assert!(found > 300, "only {found} of 400 searches found points");
}

#[test]
fn writes_store_and_replicate_as_redis() {
    let (server, redis) = servers();
    let mut streams = Vec::new();
    for port in [server.port, redis.port] {
        let mut sync = raw(port);
        sync.send(b"SYNC\r\n");
        skip_snapshot(&mut sync);
        streams.push(sync);
    }
    let mut events = Vec::new();
    for port in [server.port, redis.port] {
        let mut subscriber = raw(port);
        call(&mut subscriber, &["PSUBSCRIBE", "__key*@0__:*"]);
        events.push(subscriber);
    }
    let (mut ours, mut theirs) = (raw(server.port), raw(redis.port));
    for write in writes() {
        assert_eq!(
            call(&mut ours, &write),
            call(&mut theirs, &write),
            "{}",
            write.join(" ")
        );
    }
    let theirs = stream_until_end(&mut streams[1]);
    let ours = stream_until_end(&mut streams[0]);
    assert_eq!(ours, theirs);
    // GEOADD is fed as the ZADD of its scores; a GEORADIUS without STORE is not fed.
    assert!(ours
        .iter()
        .any(|c| c[0] == "zadd" && c[2] == "CH" && c[3] == "3479099956230698"));
    assert!(!ours.iter().any(|c| c.len() == 5 && c[0] == "GEORADIUS"));
    let theirs = events_until_end(&mut events[1]);
    let ours = events_until_end(&mut events[0]);
    assert_eq!(ours, theirs);
    assert!(ours.contains(&"__keyevent@0__:geosearchstore dst".to_string()));
    assert!(ours.contains(&"__keyevent@0__:georadiusstore dst2".to_string()));
    assert!(ours.contains(&"__keyevent@0__:del dst3".to_string()));
}
