//! Frames: every split, random splits, tampering, replay, limits and back-pressure.

use alloc::vec;
use alloc::vec::Vec;

use super::super::frame::{HEADER_LEN, TAG_LEN};
use super::super::hello::HELLO_LEN;
use super::*;

#[test]
fn frames_survive_every_split_point() {
    let d = dealing();
    let (mut a, mut b) = established(&d);
    let msgs = [message(1, 0), message(2, 5), message(3, 300)];
    for m in &msgs {
        a.send(m).unwrap();
    }
    let stream = take(&mut a);
    for k in 0..=stream.len() {
        let (_, mut b) = established(&d);
        b.receive(&stream[..k]).unwrap();
        b.receive(&stream[k..]).unwrap();
        let got: Vec<_> = core::iter::from_fn(|| b.next_message()).collect();
        assert_eq!(got, msgs, "split at {k}");
    }
    b.receive(&stream).unwrap();
    assert_eq!(b.next_message(), Some(msgs[0].clone()));
}

#[test]
fn random_splits_deliver_messages_in_order_both_ways() {
    let d = dealing();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..8 {
        let (mut a, mut b) = pair(&d, 2, 3);
        let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
        let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
        let mut steps = 0;
        while steps < 400 {
            steps += 1;
            if a.is_established() && rng.below(3) == 0 {
                let m = message(round * 1000 + steps, rng.below(3000));
                a.send(&m).unwrap();
                to_b.push(m);
            }
            if b.is_established() && rng.below(3) == 0 {
                let m = message(round * 2000 + steps, rng.below(100));
                b.send(&m).unwrap();
                to_a.push(m);
            }
            pipe(&mut a, &mut b, 1 + rng.below(700)).unwrap();
            pipe(&mut b, &mut a, 1 + rng.below(50)).unwrap();
            got_b.extend(core::iter::from_fn(|| b.next_message()));
            got_a.extend(core::iter::from_fn(|| a.next_message()));
        }
        assert!(to_b.len() > 50 && to_a.len() > 50);
        assert_eq!((got_b, got_a), (to_b, to_a));
    }
}

#[test]
fn flipped_bit_in_any_frame_byte_fails_the_receiver() {
    let d = dealing();
    let (mut a, _) = established(&d);
    a.send(b"first").unwrap();
    a.send(b"a second frame").unwrap();
    let stream = take(&mut a);
    let first = HEADER_LEN + 5 + TAG_LEN;
    for pos in first..stream.len() {
        for bit in 0..8 {
            let (_, mut b) = established(&d);
            let mut bad = stream.clone();
            bad[pos] ^= 1 << bit;
            b.receive(&bad[..first]).unwrap();
            assert_eq!(b.next_message().as_deref(), Some(&b"first"[..]));
            let e = feed_until_error(&mut b, &bad[first..]);
            assert!(
                matches!(e, ChannelError::BadMac | ChannelError::FrameTooLarge(_)),
                "{pos}/{bit}: {e:?}"
            );
            assert_eq!(b.receive(b"x"), Err(e), "failure is final");
            assert_eq!(b.receive(b""), Err(e));
            assert!(!b.is_established() && b.outgoing().is_empty());
        }
    }
}

#[test]
fn replayed_reordered_or_dropped_frames_fail() {
    let d = dealing();
    let (mut a, _) = established(&d);
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            a.send(&message(i, 20)).unwrap();
            take(&mut a)
        })
        .collect();
    for order in [[0, 0], [1, 0], [0, 2], [1, 2]] {
        let (_, mut b) = established(&d);
        let first_ok = order[0] == 0;
        assert_eq!(b.receive(&frames[order[0]]).is_ok(), first_ok);
        if first_ok {
            assert_eq!(
                b.receive(&frames[order[1]]),
                Err(ChannelError::BadMac),
                "{order:?}"
            );
        }
        assert!(!first_ok || b.next_message() == Some(message(0, 20)));
        assert_eq!(b.next_message(), None);
    }
}

#[test]
fn oversize_lengths_fail_before_buffering() {
    let d = dealing();
    for len in [MAX_FRAME_PAYLOAD as u32 + 1, u32::MAX] {
        let (_, mut b) = established(&d);
        let e = b.receive(&len.to_be_bytes());
        assert_eq!(e, Err(ChannelError::FrameTooLarge(len as u64)));
    }
    // The largest allowed length is accepted, yet nothing is reserved before its bytes come.
    let (_, mut b) = established(&d);
    assert_eq!(b.receive(&(MAX_FRAME_PAYLOAD as u32).to_be_bytes()), Ok(4));
    let State::Established(s) = &b.state else {
        panic!("not established")
    };
    assert_eq!(s.rx.buffered_capacity(), 0);
    b.receive(&[7; 1000]).unwrap();
    let State::Established(s) = &b.state else {
        panic!("not established")
    };
    assert!(s.rx.buffered_capacity() <= 2000);
    // Sending too much is refused without harming the channel.
    let (mut a, mut b) = established(&d);
    let big = vec![0u8; MAX_FRAME_PAYLOAD + 1];
    assert_eq!(
        a.send(&big),
        Err(ChannelError::FrameTooLarge(big.len() as u64))
    );
    assert_eq!(a.send(b"ok"), Ok(()));
    pipe(&mut a, &mut b, usize::MAX).unwrap();
    assert_eq!(b.next_message().as_deref(), Some(&b"ok"[..]));
}

#[test]
fn garbage_fails() {
    let d = dealing();
    let mut rng = Rng(77);
    let junk: Vec<u8> = (0..4096).map(|_| rng.below(256) as u8).collect();
    let (_, mut b) = pair(&d, 0, 1);
    assert_eq!(b.receive(&junk), Err(ChannelError::Malformed));
    let (_, mut b) = pair(&d, 0, 1);
    assert_eq!(
        b.receive(
            b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n"
                .repeat(3)
                .as_slice()
        ),
        Err(ChannelError::Malformed)
    );
    let (mut a, _) = pair(&d, 0, 1);
    assert_eq!(a.receive(&[0; HELLO_LEN]), Err(ChannelError::Malformed));
    let (_, mut b) = established(&d);
    let e = feed_until_error(&mut b, &junk);
    assert!(matches!(
        e,
        ChannelError::BadMac | ChannelError::FrameTooLarge(_)
    ));
}

#[test]
fn a_full_queue_pushes_back_until_drained() {
    let d = dealing();
    let (mut a, mut b) = established(&d);
    for i in 0..150 {
        a.send(&message(i, 10)).unwrap();
    }
    let mut stream = take(&mut a);
    let mut got = Vec::new();
    while !stream.is_empty() {
        let used = b.receive(&stream).unwrap();
        assert!(used > 0 && b.inbox.len() <= MAX_QUEUED_MESSAGES);
        stream.drain(..used);
        got.extend(core::iter::from_fn(|| b.next_message()));
    }
    assert_eq!(got, (0..150).map(|i| message(i, 10)).collect::<Vec<_>>());
}

#[test]
fn one_mebibyte_payload_goes_through() {
    let d = dealing();
    let (mut a, mut b) = established(&d);
    let big = message(5, 1 << 20);
    a.send(&big).unwrap();
    b.send(&big).unwrap();
    pipe(&mut a, &mut b, 1460).unwrap();
    pipe(&mut b, &mut a, 65536).unwrap();
    assert_eq!(b.next_message().as_ref(), Some(&big));
    assert_eq!(a.next_message().as_ref(), Some(&big));
}
