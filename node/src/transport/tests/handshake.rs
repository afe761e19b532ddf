//! The handshake: every split, tampering, and who may connect.

use super::super::hello::HELLO_LEN;
use super::*;

#[test]
fn handshake_survives_every_split_point() {
    let d = dealing();
    let (mut a, mut b) = pair(&d, 0, 1);
    let (ha, hb) = (take(&mut a), take(&mut b));
    a.receive(&hb).unwrap();
    b.receive(&ha).unwrap();
    let (sa, sb) = ([ha, take(&mut a)].concat(), [hb, take(&mut b)].concat());
    assert_eq!(sa.len(), HELLO_LEN + 64);
    for k in 0..=sa.len() {
        let (mut a, mut b) = pair(&d, 0, 1);
        for (rx, stream) in [(&mut b, &sa), (&mut a, &sb)] {
            assert_eq!(rx.receive(&stream[..k]), Ok(k));
            assert_eq!(rx.receive(&stream[k..]), Ok(stream.len() - k));
        }
        assert_eq!(
            (take(&mut a), take(&mut b)),
            (sa.clone(), sb.clone()),
            "deterministic"
        );
        assert_eq!((a.peer(), b.peer()), (Some(idx(1)), Some(idx(0))));
        a.send(b"ping").unwrap();
        pipe(&mut a, &mut b, usize::MAX).unwrap();
        assert_eq!(b.next_message().as_deref(), Some(&b"ping"[..]));
    }
}

#[test]
fn flipped_bit_in_any_handshake_byte_fails_the_receiving_end() {
    let d = dealing();
    let (mut a, mut b) = pair(&d, 0, 3);
    let (ha, hb) = (take(&mut a), take(&mut b));
    a.receive(&hb).unwrap();
    b.receive(&ha).unwrap();
    let (sa, sb) = ([ha, take(&mut a)].concat(), [hb, take(&mut b)].concat());
    for pos in 0..sa.len() {
        let (mut a, mut b) = pair(&d, 0, 3);
        let (mut bad_a, mut bad_b) = (sa.clone(), sb.clone());
        bad_a[pos] ^= 1 << (pos % 8);
        bad_b[pos] ^= 1 << (pos % 8);
        assert!(
            b.receive(&bad_a).is_err(),
            "responder accepted a changed byte {pos}"
        );
        assert!(
            a.receive(&bad_b).is_err(),
            "initiator accepted a changed byte {pos}"
        );
    }
}

#[test]
fn initiator_rejects_a_member_it_did_not_dial() {
    let d = dealing();
    let mut a = Channel::new(&config(&d, 0), Role::Initiator { peer: idx(2) }, [1; 32]).unwrap();
    let mut b = Channel::new(&config(&d, 3), Role::Responder, [2; 32]).unwrap();
    let e = ChannelError::UnexpectedPeer {
        expected: idx(2),
        got: idx(3),
    };
    assert_eq!(connect(&mut a, &mut b), Err(e));
    assert!(!b.is_established());
}

#[test]
fn non_members_and_impostors_fail() {
    let d = dealing();
    // An outsider that believes it is member 7 of a longer list.
    let mut outsider = config(&d, 0);
    outsider.me = idx(7);
    outsider.node_secret = [42; 32];
    outsider.node_public_keys.resize(
        8,
        keel_crypto::ed25519::SigningKey::from_seed([42; 32]).public_key(),
    );
    let mut o = Channel::new(&outsider, Role::Initiator { peer: idx(1) }, [3; 32]).unwrap();
    let mut b = Channel::new(&config(&d, 1), Role::Responder, [4; 32]).unwrap();
    assert_eq!(
        connect(&mut o, &mut b),
        Err(ChannelError::NotAMember(idx(7)))
    );
    // Member 2 claiming to be member 1, in either role: its signature is not 1's.
    let mut impostor = config(&d, 2);
    impostor.me = idx(1);
    impostor.node_public_keys[1] = impostor.node_public_keys[2];
    let mut i = Channel::new(&impostor, Role::Initiator { peer: idx(3) }, [5; 32]).unwrap();
    let mut r = Channel::new(&config(&d, 3), Role::Responder, [6; 32]).unwrap();
    assert_eq!(connect(&mut i, &mut r), Err(ChannelError::BadSignature));
    assert!(!r.is_established());
    let mut a = Channel::new(&config(&d, 0), Role::Initiator { peer: idx(1) }, [7; 32]).unwrap();
    let mut i = Channel::new(&impostor, Role::Responder, [8; 32]).unwrap();
    assert_eq!(connect(&mut a, &mut i), Err(ChannelError::BadSignature));
    assert!(!a.is_established());
}

#[test]
fn self_connections_fail() {
    let d = dealing();
    let c = config(&d, 2);
    assert_eq!(
        Channel::new(&c, Role::Initiator { peer: idx(2) }, [0; 32]).err(),
        Some(ChannelError::SelfConnection)
    );
    // Dialling "member 1" at an address that turns out to be our own.
    let mut a = Channel::new(&c, Role::Initiator { peer: idx(1) }, [1; 32]).unwrap();
    let mut b = Channel::new(&c, Role::Responder, [2; 32]).unwrap();
    assert_eq!(b.receive(a.outgoing()), Err(ChannelError::SelfConnection));
    assert_eq!(
        a.receive(&take(
            &mut Channel::new(&c, Role::Responder, [3; 32]).unwrap()
        )),
        Err(ChannelError::SelfConnection)
    );
}

#[test]
fn hello_checks_version_subnet_role_and_config() {
    let d = dealing();
    let (mut a, mut b) = pair(&d, 0, 1);
    let mut hello = take(&mut a);
    hello[5] ^= 2;
    assert_eq!(
        b.receive(&hello),
        Err(ChannelError::VersionMismatch { ours: 1, theirs: 3 })
    );
    let mut other = config(&d, 1);
    other.subnet_tag = [1; 32];
    let mut b = Channel::new(&other, Role::Responder, [0; 32]).unwrap();
    hello[5] ^= 2;
    assert_eq!(b.receive(&hello), Err(ChannelError::WrongSubnet));
    let mut twin = Channel::new(&config(&d, 1), Role::Initiator { peer: idx(0) }, [0; 32]).unwrap();
    assert_eq!(twin.receive(&hello), Err(ChannelError::RoleMismatch));
    let mut bad = config(&d, 1);
    bad.node_secret = [0; 32];
    assert_eq!(
        Channel::new(&bad, Role::Responder, [0; 32]).err(),
        Some(ChannelError::BadConfig)
    );
    assert_eq!(
        Channel::new(&config(&d, 1), Role::Initiator { peer: idx(4) }, [0; 32]).err(),
        Some(ChannelError::NotAMember(idx(4)))
    );
}

#[test]
fn send_waits_for_the_handshake() {
    let d = dealing();
    let (mut a, mut b) = pair(&d, 0, 1);
    assert_eq!(a.send(b"early"), Err(ChannelError::NotEstablished));
    assert_eq!(a.peer(), None);
    connect(&mut a, &mut b).unwrap();
    assert!(a.is_established() && b.is_established());
}
