use super::*;
use proptest::prelude::*;

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

fn metadata(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"elvl".to_vec();
    out.extend_from_slice(&(12 + body.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&body);
    out
}

/// A BMP-fronted extended file: fake 54-byte bitmap, metadata at 56.
fn bmp_file(meta: &[u8], tiles: &[u8]) -> Vec<u8> {
    let meta_off = 56u32;
    let bf_size = meta_off + meta.len() as u32;
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&bf_size.to_le_bytes());
    out.extend_from_slice(&meta_off.to_le_bytes());
    out.extend_from_slice(&54u32.to_le_bytes());
    out.resize(meta_off as usize, 0xAA);
    out.extend_from_slice(meta);
    out.extend_from_slice(tiles);
    out
}

#[test]
fn emergency_map_vectors() {
    assert_eq!(file_checksum(&EMERGENCY_MAP), 0x5643_EF8A);
    assert_eq!(
        compress_for_download(&EMERGENCY_MAP),
        [0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x04, 0x00, 0x00, 0x05, 0x00, 0x02]
    );
    let packet = download_packet(EMERGENCY_MAP_NAME, &EMERGENCY_MAP).unwrap();
    let expected = [
        0x2a, 0x74, 0x69, 0x6e, 0x79, 0x6d, 0x61, 0x70, 0x2e, 0x6c, 0x76, 0x6c, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x04, 0x00, 0x00, 0x05, 0x00, 0x02,
    ];
    assert_eq!(packet, expected);
    let map = Map::decode(&EMERGENCY_MAP).unwrap();
    assert_eq!(map.tile(0, 0), 1);
    assert_eq!(map.tiles().count(), 1);
    assert_eq!(map.security_checksum(0), 0x0000_0001);
    assert_eq!(map.security_checksum(0x3E0), 0x0000_07C1);
    assert_eq!(map.security_checksum(0x3E8), 0x0000_03E8);
}

#[test]
fn crc_check_value() {
    assert_eq!(file_checksum(b"123456789"), 0xCBF4_3926);
}

#[test]
fn tile_record_vectors() {
    let map = Map::decode(&[0x1f, 0x00, 0x02, 0x05, 0xff, 0xf3, 0x3f, 0x01]).unwrap();
    assert_eq!(map.tile(31, 32), 5);
    assert_eq!(map.tile(1023, 1023), 1);
    assert_eq!(
        map.tiles().collect::<Vec<_>>(),
        [(31, 32, 5), (1023, 1023, 1)]
    );
}

#[test]
fn negative_key_rules() {
    let map = Map::decode(&[0, 0, 0, 1, 0xff, 0xf3, 0x3f, 0x01]).unwrap();
    assert_eq!(map.security_checksum(0xFFFF_FFFF), 0xFFFF_FFFB);
    assert_eq!(
        map.security_checksum_with(0xFFFF_FFFF, NegativeKeyRule::Skip),
        0xFFFF_FFFF
    );
}

#[test]
fn rtil_vector() {
    let data = [0x84, 0x09, 0x49, 0x23, 0xeb, 0xc1, 0xa3, 0xf7];
    let runs = decode_rtil(&data, MAX_REGION_RUNS).unwrap();
    let expected: Vec<TileRun> = (5..8).map(|y| TileRun { y, x: 10, len: 10 }).collect();
    assert_eq!(runs, expected);
    assert_eq!(encode_rtil(&runs).unwrap(), data);
    // The whole empty region, and malformed data.
    assert_eq!(decode_rtil(&[0xA3, 0xFF], 10).unwrap(), []);
    assert_eq!(decode_rtil(&[0xA3, 0xFE], 10), None); // 1023 rows
    assert_eq!(decode_rtil(&[0xC0, 0xA3, 0xFE], 10), None); // repeat on row 0
    assert_eq!(decode_rtil(&[0x49], 10), None);
    assert_eq!(decode_rtil(&data, 2), None); // over the run budget
}

#[test]
fn multi_tile_objects_expand_and_round_trip() {
    let mut map = Map::new();
    map.set_tile(10, 10, tile::BIG_ASTEROID);
    map.set_tile(100, 100, tile::STATION);
    map.set_tile(1022, 1022, tile::WORMHOLE); // clipped at the edge
    map.set_tile(200, 200, tile::FLAG);
    map.set_tile(201, 200, tile::SAFE);
    assert_eq!(map.tile(11, 11), tile::BIG_ASTEROID);
    assert_eq!(map.tile(12, 11), 0);
    assert_eq!(map.tile(105, 105), tile::STATION);
    assert_eq!(map.tile(1023, 1023), tile::WORMHOLE);
    assert_eq!(map.tiles().count(), 4 + 36 + 4 + 2);
    let lvl = map.encode();
    assert_eq!(lvl.len(), 5 * 4);
    let back = Map::decode(&lvl).unwrap();
    assert_eq!(
        back.tiles().collect::<Vec<_>>(),
        map.tiles().collect::<Vec<_>>()
    );
    assert_eq!(back.encode(), lvl);
    assert_eq!(back.flags(), [(200, 200)]);
    assert_eq!(back.flag_records(), 1);
}

#[test]
fn tile_queries() {
    let map = Map::decode(&default_map()).unwrap();
    assert!(map.is_solid(-1, 5));
    assert!(map.is_solid(5, 1024));
    assert_eq!(map.tile(-1, 5), tile::EMPTY);
    assert!(!map.is_safe_zone(-1, -1));
    for t in [1, 20, 160, 162, 169, 216, 217, 218, 219, 250] {
        assert!(tile::is_solid(t), "{t}");
    }
    for t in [0, 170, 171, 172, 173, 190, 220] {
        assert!(!tile::is_solid(t), "{t}");
    }
}

#[test]
fn default_map_layout() {
    let lvl = default_map();
    assert_eq!(lvl, default_map(), "deterministic");
    let map = Map::decode(&lvl).unwrap();
    assert_eq!(map.encode(), lvl);
    for i in [0, 1, 500, 1022, 1023] {
        assert!(map.is_solid(i, 0) && map.is_solid(i, 1023));
        assert!(map.is_solid(0, i) && map.is_solid(1023, i));
    }
    assert!(map.is_safe_zone(512, 512) && map.is_safe_zone(504, 519));
    assert!(!map.is_safe_zone(503, 512));
    // Nothing solid near the spawn area.
    for y in 472..552 {
        for x in 472..552 {
            assert!(!map.is_solid(x, y), "({x}, {y})");
        }
    }
    let records = lvl.len() / 4;
    assert!((4092..6000).contains(&records), "{records} records");
    let obstacles = map
        .tiles()
        .filter(|&(x, y, _)| x > 1 && y > 1 && x < 1022 && y < 1022);
    assert!(obstacles.filter(|&(_, _, t)| tile::is_solid(t)).count() > 300);
    // It also compresses well.
    assert!(compress_for_download(&lvl).len() < 12_000);
}

#[test]
fn generator_parameters() {
    let bare = generate(&GenParams {
        border: false,
        safe_half_size: 0,
        asteroids: 0,
        wall_blocks: 0,
        ..GenParams::default()
    });
    assert_eq!(bare.tiles().count(), 0);
    let other_seed = generate(&GenParams {
        seed: 7,
        ..GenParams::default()
    });
    assert_ne!(other_seed.encode(), default_map());
}

#[test]
fn plain_file_rules() {
    // Out-of-range x, overwrite, trailing fragment, type-0 clears.
    let mut file = Vec::new();
    for w in [
        0x0100_0400u32,
        0x0200_1001,
        0x0300_1001,
        0x0100_2002,
        0x0000_2002,
    ] {
        file.extend_from_slice(&w.to_le_bytes());
    }
    file.extend_from_slice(&[1, 2, 3]);
    let map = Map::decode(&file).unwrap();
    assert_eq!(map.bad_records(), 1);
    assert_eq!(map.tile(1, 1), 3);
    assert_eq!(map.tile(2, 2), 0);
    assert_eq!(map.tiles().count(), 1);
}

#[test]
fn extended_bmp_file() {
    let mut region = Vec::new();
    region.extend(chunk(b"rNAM", b"spawn"));
    region.extend(chunk(
        b"rTIL",
        &[0x84, 0x09, 0x49, 0x23, 0xeb, 0xc1, 0xa3, 0xf7],
    ));
    region.extend(chunk(b"rBSE", &[]));
    region.extend(chunk(b"rAWP", &[5, 0, 0xff, 0xff]));
    let meta = metadata(&[
        chunk(b"ATTR", b"NAME=Test map"),
        chunk(b"REGN", &region),
        chunk(b"REGN", &chunk(b"rBSE", &[])), // no name: skipped
        chunk(b"ZZZZ", &[1, 2, 3]),
        chunk(b"TILE", &0x0500_0005u32.to_le_bytes()),
    ]);
    let file = bmp_file(&meta, &0x0100_1001u32.to_le_bytes());
    let map = Map::decode(&file).unwrap();
    assert_eq!(map.attribute("name"), Some("Test map"));
    assert_eq!(map.tile(5, 0), 5);
    assert_eq!(map.tile(1, 1), 1);
    assert_eq!(map.tiles().count(), 2);
    assert_eq!(map.bad_regions(), 1);
    assert_eq!(map.extra_chunks(), [(*b"ZZZZ", vec![1, 2, 3])]);
    let [region] = map.regions() else {
        panic!("one region expected")
    };
    assert_eq!(region.name, "spawn");
    assert!(region.is_base && !region.no_weapons);
    assert_eq!(
        region.auto_warp,
        Some(AutoWarp {
            x: 5,
            y: -1,
            arena: None
        })
    );
    assert!(region.contains(10, 5) && region.contains(19, 7));
    assert!(!region.contains(20, 5) && !region.contains(10, 8) && !region.contains(9, 6));
    assert_eq!(map.regions_at(15, 6).count(), 1);
    assert_eq!(map.regions_at(-15, 6).count(), 0);

    // Plain BMP-fronted file whose bfSize is past the end.
    let mut bad = file.clone();
    bad[2..6].copy_from_slice(&10_000u32.to_le_bytes());
    assert!(matches!(
        Map::decode(&bad),
        Err(MapError::BadTileOffset { .. })
    ));
    // Metadata size pointing past the end: metadata ignored, tiles kept.
    let mut ignored = file;
    ignored[60..64].copy_from_slice(&u32::MAX.to_le_bytes());
    let map = Map::decode(&ignored).unwrap();
    assert_eq!(map.tiles().count(), 1);
    assert!(map.regions().is_empty());
}

#[test]
fn metadata_first_file() {
    let meta = metadata(&[
        chunk(b"TSET", &[0; 40]),
        chunk(b"TILE", &0xAB00_3007u32.to_le_bytes()),
    ]);
    let map = Map::decode(&meta).unwrap();
    assert_eq!(map.tile(7, 3), 0xAB);
    let no_tiles = metadata(&[chunk(b"ATTR", b"A=B")]);
    assert_eq!(
        Map::decode(&no_tiles).unwrap_err(),
        MapError::MissingTileChunk
    );
    let mut truncated = meta.clone();
    truncated.truncate(16);
    assert!(matches!(
        Map::decode(&truncated),
        Err(MapError::BadMetadataSize { .. })
    ));
    // Oversized chunk: reading stops there.
    let mut huge = b"TILE".to_vec();
    huge.extend_from_slice(&(MAX_CHUNK_SIZE as u32 + 4).to_le_bytes());
    huge.resize(8 + MAX_CHUNK_SIZE + 4, 0);
    assert_eq!(
        Map::decode(&metadata(&[huge])).unwrap_err(),
        MapError::MissingTileChunk
    );
}

#[test]
fn size_limits() {
    let big = vec![0u8; MAX_LVL_SIZE + 1];
    assert!(matches!(Map::decode(&big), Err(MapError::TooLarge { .. })));
    let zeros = compress_for_download(&vec![0u8; 100_000]);
    assert_eq!(decompress_download(&zeros, 100_000).unwrap().len(), 100_000);
    assert!(matches!(
        decompress_download(&zeros, 99_999),
        Err(MapError::TooLarge { .. })
    ));
    assert!(matches!(
        decompress_download(&[0x78, 0x9c, 0xff, 0xff], 100),
        Err(MapError::Corrupt(_))
    ));
    assert!(matches!(
        download_packet("seventeen-chars.x", &EMERGENCY_MAP),
        Err(MapError::FileNameTooLong(_))
    ));
    assert_eq!(
        download_packet("sixteen-chars.xx", &EMERGENCY_MAP)
            .unwrap()
            .len(),
        29
    );
}

proptest! {
    #[test]
    fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Map::decode(&data);
        let _ = decompress_download(&data, 1 << 16);
        let _ = decode_rtil(&data, 1 << 12);
    }

    #[test]
    fn extended_decoder_never_panics(
        chunks in proptest::collection::vec(
            (prop_oneof![Just(*b"REGN"), Just(*b"ATTR"), Just(*b"TILE"), Just(*b"rTIL")],
             proptest::collection::vec(any::<u8>(), 0..64)),
            0..6),
        bmp in any::<bool>(),
    ) {
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|(k, d)| chunk(k, d)).collect();
        let meta = metadata(&chunks);
        let file = if bmp { bmp_file(&meta, &[1, 2, 3, 4]) } else { meta };
        let _ = Map::decode(&file);
    }

    #[test]
    fn encode_decode_round_trip(
        records in proptest::collection::vec((0u16..1024, 0u16..1024, 1u8..=255), 0..200)
    ) {
        let mut map = Map::new();
        for &(x, y, t) in &records {
            // Objects that overlap other tiles cannot always round-trip.
            if tile::object_size(t) == 1 {
                map.set_tile(x, y, t);
            }
        }
        let lvl = map.encode();
        let back = Map::decode(&lvl).unwrap();
        prop_assert_eq!(back.tiles().collect::<Vec<_>>(), map.tiles().collect::<Vec<_>>());
        prop_assert_eq!(back.encode(), lvl);
    }

    #[test]
    fn rtil_encoder_checks_its_input(
        mut runs in proptest::collection::vec((0u16..1100, 0u16..1100, 0u16..50), 0..40),
        sort in any::<bool>(),
    ) {
        if sort {
            runs.sort();
        }
        let runs: Vec<TileRun> = runs.into_iter().map(|(y, x, len)| TileRun { y, x, len }).collect();
        if let Some(data) = encode_rtil(&runs) {
            prop_assert_eq!(decode_rtil(&data, MAX_REGION_RUNS), Some(runs));
        }
    }

    #[test]
    fn rtil_round_trip(cells in proptest::collection::btree_set((0u16..1024, 0u16..40), 0..300)) {
        let mut runs: Vec<TileRun> = Vec::new();
        for &(x, y) in &cells {
            let y = y * 25; // spread over the grid, with repeated rows now and then
            runs.push(TileRun { y, x, len: 1 });
        }
        runs.sort();
        runs.dedup();
        let data = encode_rtil(&runs).unwrap();
        prop_assert_eq!(decode_rtil(&data, MAX_REGION_RUNS).unwrap(), runs);
    }
}

proptest! {
    /// Map download compression round-trips, and the decompressor refuses
    /// output one byte over its limit.
    #[test]
    fn download_compression_round_trips(lvl in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let z = compress_for_download(&lvl);
        prop_assert_eq!(&decompress_download(&z, lvl.len()).expect("inflates"), &lvl);
        if !lvl.is_empty() {
            let refused = matches!(
                decompress_download(&z, lvl.len() - 1),
                Err(MapError::TooLarge { .. })
            );
            prop_assert!(refused);
        }
    }

    /// A map packet for download carries the name and the compressed file.
    #[test]
    fn download_packet_round_trips(
        name in "[a-z0-9]{1,12}\\.lvl",
        lvl in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let p = download_packet(&name, &lvl).expect("a short name");
        prop_assert_eq!(p[0], MAP_DATA_PACKET_TYPE);
        let field = &p[1..1 + FILE_NAME_LEN];
        let end = field.iter().position(|&b| b == 0).unwrap_or(FILE_NAME_LEN);
        prop_assert_eq!(&field[..end], name.as_bytes());
        let inflated = decompress_download(&p[1 + FILE_NAME_LEN..], lvl.len()).expect("inflates");
        prop_assert_eq!(inflated, lvl);
    }
}

#[test]
fn turf_map_has_its_static_flags_in_id_order() {
    let map = Map::decode(&turf_map()).unwrap();
    let flags = map.flags();
    assert_eq!(flags, TURF_FLAG_TILES.to_vec());
}

#[test]
fn soccer_map_has_a_walled_field_with_a_goal_at_each_end() {
    let bytes = soccer_map();
    assert_eq!(bytes, soccer_map(), "deterministic");
    let map = Map::decode(&bytes).unwrap();
    for (x, y1, y2) in SOCCER_GOALS {
        for y in y1..=y2 {
            assert_eq!(map.tile(i32::from(x), i32::from(y)), tile::GOAL);
        }
        assert_eq!(map.tile(i32::from(x), i32::from(y2) + 1), tile::EMPTY);
    }
    let (left, top, right, bottom) = SOCCER_FIELD;
    assert!(map.is_solid(i32::from(left), 512) && map.is_solid(i32::from(right), 512));
    assert!(map.is_solid(450, i32::from(top)) && map.is_solid(450, i32::from(bottom)));
    // The way in, and nothing in the field but the goals.
    assert!(!map.is_solid(512, i32::from(top)) && !map.is_solid(512, i32::from(bottom)));
    let inside = map
        .tiles()
        .filter(|&(x, y, _)| x > left && x < right && y > top && y < bottom)
        .filter(|&(_, _, t)| t != tile::GOAL)
        .count();
    assert_eq!(inside, 0);
}

#[test]
fn a_map_with_regions_round_trips_through_the_extended_encoding() {
    let mut map = Map::new();
    map.set_tile(10, 10, 1);
    map.set_tile(500, 600, tile::SAFE);
    let regions = vec![
        Region {
            name: "warp".into(),
            runs: vec![
                TileRun {
                    y: 100,
                    x: 200,
                    len: 5,
                },
                TileRun {
                    y: 101,
                    x: 200,
                    len: 5,
                },
            ],
            no_weapons: true,
            auto_warp: Some(AutoWarp {
                x: 512,
                y: -1,
                arena: None,
            }),
            ..Region::default()
        },
        Region {
            name: "elsewhere".into(),
            runs: vec![TileRun {
                y: 3,
                x: 0,
                len: 1024,
            }],
            no_antiwarp: true,
            auto_warp: Some(AutoWarp {
                x: 1,
                y: 2,
                arena: Some("duel".into()),
            }),
            ..Region::default()
        },
    ];
    let file = map.encode_with_regions(&regions);
    assert!(file.starts_with(b"elvl"));
    let back = Map::decode(&file).expect("decodes");
    assert_eq!(back.regions(), &regions[..]);
    assert_eq!(back.tile(10, 10), 1);
    assert_eq!(back.tile(500, 600), tile::SAFE);
    assert!(back.regions_at(204, 101).any(|r| r.name == "warp"));
    assert!(back.regions_at(205, 101).next().is_none());
}

/// Every realm holds its decoded map for its whole life, so the grid must
/// stay sparse: the default map's ~4,800 tiles fit in 8 × 8 blocks of
/// about 42 KiB plus the 32 KiB index (BENCHMARKS.md, "Realm memory"), and a
/// decoded map keeps no spare block capacity.
#[test]
fn a_decoded_map_holds_only_the_blocks_its_tiles_touch() {
    let map = Map::decode(&default_map()).unwrap();
    let blocks: std::collections::BTreeSet<(u16, u16)> = map
        .tiles()
        .map(|(x, y, _)| (x / BLOCK as u16, y / BLOCK as u16))
        .collect();
    assert_eq!(map.grid.cells.len(), blocks.len());
    assert_eq!(map.grid.cells.capacity(), map.grid.cells.len());
    let bytes = map.grid.cells.len() * BLOCK_CELLS + map.grid.index.len() * 2;
    assert!(
        bytes < 96 * 1024,
        "the default map's grid takes {bytes} bytes"
    );
    // Every tile reads back from its block.
    for (x, y, t) in map.tiles() {
        assert_eq!(map.tile(i32::from(x), i32::from(y)), t);
    }
}
