//! Owned MQTT 3.1.1 packets, their framing, and the bridge to the `mqttrs` codec.
//!
//! `mqttrs::decode_slice` needs a whole packet and indexes its buffer without checking lengths in
//! a few places (e.g. a PUBACK whose remaining length is 0, or a PUBLISH whose topic length points
//! past its end). So [`split_frame`] cuts exactly one frame off the read buffer first, and
//! [`decode_frame`] checks each packet type's minimum length before handing the frame over. Only
//! the packets a client can legally receive are accepted.

use bytes::{Bytes, BytesMut};
use mqttrs::{Pid, QosPid};

use crate::LinkError;

/// Delivery guarantee of a publish. QoS 2 is not supported by this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoS {
    /// At most once: no acknowledgement.
    AtMostOnce,
    /// At least once: the receiver answers PUBACK; the sender repeats until it does.
    AtLeastOnce,
}

impl QoS {
    pub(crate) fn to_mqttrs(self) -> mqttrs::QoS {
        match self {
            QoS::AtMostOnce => mqttrs::QoS::AtMostOnce,
            QoS::AtLeastOnce => mqttrs::QoS::AtLeastOnce,
        }
    }
}

/// The last will the broker publishes when the connection dies without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Topic of the will message.
    pub topic: String,
    /// Payload of the will message.
    pub payload: Bytes,
    /// QoS of the will message.
    pub qos: QoS,
    /// Whether the broker retains the will message.
    pub retain: bool,
}

/// A packet the client sends, owned so the session can keep and repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutPacket {
    /// CONNECT.
    Connect {
        /// Client id.
        client_id: String,
        /// Keep-alive in seconds (0 = off).
        keep_alive: u16,
        /// Whether the broker should discard any previous session.
        clean_session: bool,
        /// Username.
        username: Option<String>,
        /// Password.
        password: Option<Bytes>,
        /// Last will.
        last_will: Option<LastWill>,
    },
    /// PUBLISH (`pid` is `Some` for QoS 1).
    Publish {
        /// DUP flag: a repeat of an earlier attempt.
        dup: bool,
        /// QoS.
        qos: QoS,
        /// Packet id for QoS 1.
        pid: Option<u16>,
        /// RETAIN flag.
        retain: bool,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
    },
    /// PUBACK for an incoming QoS 1 publish.
    Puback(u16),
    /// SUBSCRIBE.
    Subscribe {
        /// Packet id.
        pid: u16,
        /// Filters with their maximum QoS.
        filters: Vec<(String, QoS)>,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// Packet id.
        pid: u16,
        /// Filters.
        filters: Vec<String>,
    },
    /// PINGREQ.
    Pingreq,
    /// DISCONNECT.
    Disconnect,
}

/// A packet the client can receive, owned and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InPacket {
    /// CONNACK.
    Connack {
        /// Session present flag.
        session_present: bool,
        /// Return code: 0 accepted, 1..=5 refused.
        code: u8,
    },
    /// PUBLISH from the broker.
    Publish {
        /// DUP flag.
        dup: bool,
        /// QoS.
        qos: QoS,
        /// Packet id for QoS 1.
        pid: Option<u16>,
        /// RETAIN flag.
        retain: bool,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
    },
    /// PUBACK for one of our QoS 1 publishes.
    Puback(u16),
    /// SUBACK: one entry per requested filter, `None` for failure (0x80).
    Suback {
        /// Packet id.
        pid: u16,
        /// Granted QoS per filter; `None` = refused.
        granted: Vec<Option<QoS>>,
    },
    /// UNSUBACK.
    Unsuback(u16),
    /// PINGRESP.
    Pingresp,
}

fn pid(n: u16) -> Result<Pid, LinkError> {
    Pid::try_from(n).map_err(LinkError::Codec)
}

impl OutPacket {
    /// An upper bound of the encoded size, to size the buffer handed to `mqttrs::encode_slice`.
    fn size_hint(&self) -> usize {
        // 5 = fixed header (1) + the longest remaining-length field (4).
        5 + match self {
            OutPacket::Connect {
                client_id,
                username,
                password,
                last_will,
                ..
            } => {
                10 + 2
                    + client_id.len()
                    + username.as_ref().map_or(0, |u| 2 + u.len())
                    + password.as_ref().map_or(0, |p| 2 + p.len())
                    + last_will
                        .as_ref()
                        .map_or(0, |w| 4 + w.topic.len() + w.payload.len())
            }
            OutPacket::Publish { topic, payload, .. } => 4 + topic.len() + payload.len(),
            OutPacket::Subscribe { filters, .. } => {
                2 + filters.iter().map(|(f, _)| 3 + f.len()).sum::<usize>()
            }
            OutPacket::Unsubscribe { filters, .. } => {
                2 + filters.iter().map(|f| 2 + f.len()).sum::<usize>()
            }
            OutPacket::Puback(_) => 2,
            OutPacket::Pingreq | OutPacket::Disconnect => 0,
        }
    }

    /// Encodes the packet with `mqttrs::encode_slice` and appends it to `out`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), LinkError> {
        let mut buf = vec![0u8; self.size_hint()];
        let n = match self {
            OutPacket::Connect {
                client_id,
                keep_alive,
                clean_session,
                username,
                password,
                last_will,
            } => {
                let packet = mqttrs::Packet::Connect(mqttrs::Connect {
                    protocol: mqttrs::Protocol::MQTT311,
                    keep_alive: *keep_alive,
                    client_id,
                    clean_session: *clean_session,
                    last_will: last_will.as_ref().map(|w| mqttrs::LastWill {
                        topic: &w.topic,
                        message: &w.payload,
                        qos: w.qos.to_mqttrs(),
                        retain: w.retain,
                    }),
                    username: username.as_deref(),
                    password: password.as_deref(),
                });
                mqttrs::encode_slice(&packet, &mut buf)?
            }
            OutPacket::Publish {
                dup,
                qos,
                pid: p,
                retain,
                topic,
                payload,
            } => {
                let qospid = match (qos, p) {
                    (QoS::AtMostOnce, _) => QosPid::AtMostOnce,
                    (QoS::AtLeastOnce, Some(n)) => QosPid::AtLeastOnce(pid(*n)?),
                    (QoS::AtLeastOnce, None) => {
                        return Err(LinkError::Codec(mqttrs::Error::InvalidPid));
                    }
                };
                let packet = mqttrs::Packet::Publish(mqttrs::Publish {
                    dup: *dup,
                    qospid,
                    retain: *retain,
                    topic_name: topic,
                    payload,
                });
                mqttrs::encode_slice(&packet, &mut buf)?
            }
            OutPacket::Puback(n) => {
                mqttrs::encode_slice(&mqttrs::Packet::Puback(pid(*n)?), &mut buf)?
            }
            OutPacket::Subscribe { pid: n, filters } => {
                let topics = filters
                    .iter()
                    .map(|(f, q)| mqttrs::SubscribeTopic {
                        topic_path: f.clone(),
                        qos: q.to_mqttrs(),
                    })
                    .collect();
                let packet = mqttrs::Packet::Subscribe(mqttrs::Subscribe::new(pid(*n)?, topics));
                mqttrs::encode_slice(&packet, &mut buf)?
            }
            OutPacket::Unsubscribe { pid: n, filters } => {
                let packet = mqttrs::Packet::Unsubscribe(mqttrs::Unsubscribe::new(
                    pid(*n)?,
                    filters.clone(),
                ));
                mqttrs::encode_slice(&packet, &mut buf)?
            }
            OutPacket::Pingreq => mqttrs::encode_slice(&mqttrs::Packet::Pingreq, &mut buf)?,
            OutPacket::Disconnect => mqttrs::encode_slice(&mqttrs::Packet::Disconnect, &mut buf)?,
        };
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(())
    }
}

/// Reads the fixed header at the start of `buf`: `Ok(None)` until the whole packet is there,
/// `Ok(Some(total_len))` once it is. Fails on a malformed length or one above `max_packet`.
pub fn frame_len(buf: &[u8], max_packet: usize) -> Result<Option<usize>, LinkError> {
    let mut remaining: usize = 0;
    // MQTT 3.1.1 §2.2.3: the remaining length takes at most 4 bytes, 7 bits each.
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if remaining > max_packet {
                return Err(LinkError::PacketTooLarge {
                    size: remaining,
                    max: max_packet,
                });
            }
            let total = 1 + (i + 1) + remaining;
            return Ok((buf.len() >= total).then_some(total));
        }
    }
    Err(LinkError::Codec(mqttrs::Error::InvalidHeader))
}

/// Cuts one whole frame off the front of `buf`, if there is one.
pub fn split_frame(buf: &mut BytesMut, max_packet: usize) -> Result<Option<BytesMut>, LinkError> {
    Ok(frame_len(buf, max_packet)?.map(|n| buf.split_to(n)))
}

fn too_short(what: &str) -> LinkError {
    LinkError::Protocol(format!("{what} packet too short"))
}

/// Decodes one complete frame (as cut by [`split_frame`]) into an [`InPacket`].
pub fn decode_frame(frame: &[u8]) -> Result<InPacket, LinkError> {
    let first = *frame.first().ok_or_else(|| too_short("empty"))?;
    if frame_len(frame, usize::MAX)? != Some(frame.len()) {
        return Err(LinkError::Protocol("incomplete or overlong frame".into()));
    }
    // Fixed header = the type byte + 1..=4 remaining-length bytes (the last one has no 0x80).
    let len_bytes = frame
        .iter()
        .skip(1)
        .take(4)
        .position(|b| b & 0x80 == 0)
        .map_or(4, |p| p + 1);
    let header_len = 1 + len_bytes;
    let body = frame.get(header_len..).unwrap_or_default();
    // Length checks the codec itself does not make (see the module doc).
    match first >> 4 {
        2 | 4 | 11 if body.len() != 2 => return Err(too_short("fixed-size")),
        9 if body.len() < 3 => return Err(too_short("SUBACK")),
        13 if !body.is_empty() => return Err(LinkError::Protocol("PINGRESP with a body".into())),
        3 => {
            let qos_bits = (first >> 1) & 0b11;
            let topic_len = match body {
                [hi, lo, ..] => usize::from(*hi) << 8 | usize::from(*lo),
                _ => return Err(too_short("PUBLISH")),
            };
            let pid_len = if qos_bits == 0 { 0 } else { 2 };
            if body.len() < 2 + topic_len + pid_len {
                return Err(too_short("PUBLISH"));
            }
        }
        2 | 4 | 9 | 11 | 13 => {}
        other => {
            return Err(LinkError::Protocol(format!(
                "packet type {other} is not one a broker sends to a client"
            )));
        }
    }
    let packet = mqttrs::decode_slice(frame)?
        .ok_or_else(|| LinkError::Protocol("frame shorter than its header says".into()))?;
    Ok(match packet {
        mqttrs::Packet::Connack(c) => InPacket::Connack {
            session_present: c.session_present,
            code: match c.code {
                mqttrs::ConnectReturnCode::Accepted => 0,
                mqttrs::ConnectReturnCode::RefusedProtocolVersion => 1,
                mqttrs::ConnectReturnCode::RefusedIdentifierRejected => 2,
                mqttrs::ConnectReturnCode::ServerUnavailable => 3,
                mqttrs::ConnectReturnCode::BadUsernamePassword => 4,
                mqttrs::ConnectReturnCode::NotAuthorized => 5,
            },
        },
        mqttrs::Packet::Publish(p) => {
            let (qos, pid) = match p.qospid {
                QosPid::AtMostOnce => (QoS::AtMostOnce, None),
                QosPid::AtLeastOnce(n) => (QoS::AtLeastOnce, Some(n.get())),
                QosPid::ExactlyOnce(_) => {
                    return Err(LinkError::Protocol(
                        "QoS 2 publish; we subscribe with QoS ≤ 1".into(),
                    ));
                }
            };
            InPacket::Publish {
                dup: p.dup,
                qos,
                pid,
                retain: p.retain,
                topic: p.topic_name.to_owned(),
                payload: Bytes::copy_from_slice(p.payload),
            }
        }
        mqttrs::Packet::Puback(n) => InPacket::Puback(n.get()),
        mqttrs::Packet::Suback(s) => InPacket::Suback {
            pid: s.pid.get(),
            granted: s
                .return_codes
                .iter()
                .map(|c| match c {
                    mqttrs::SubscribeReturnCodes::Success(mqttrs::QoS::AtMostOnce) => {
                        Some(QoS::AtMostOnce)
                    }
                    // QoS 2 granted cannot happen (we never ask for it); treat it as QoS 1.
                    mqttrs::SubscribeReturnCodes::Success(_) => Some(QoS::AtLeastOnce),
                    mqttrs::SubscribeReturnCodes::Failure => None,
                })
                .collect(),
        },
        mqttrs::Packet::Unsuback(n) => InPacket::Unsuback(n.get()),
        mqttrs::Packet::Pingresp => InPacket::Pingresp,
        other => {
            return Err(LinkError::Protocol(format!(
                "unexpected {:?} from the broker",
                other.get_type()
            )));
        }
    })
}

/// Checks a topic *name* for PUBLISH: non-empty, no wildcards, no NUL, at most 65535 bytes.
pub fn validate_topic_name(topic: &str) -> Result<(), LinkError> {
    if topic.is_empty() || topic.len() > 65535 || topic.contains(['+', '#', '\0']) {
        return Err(LinkError::InvalidTopic(topic.to_owned()));
    }
    Ok(())
}

/// Checks a topic *filter* for SUBSCRIBE: `+` alone in its level, `#` alone and last.
pub fn validate_topic_filter(filter: &str) -> Result<(), LinkError> {
    let bad = || LinkError::InvalidTopic(filter.to_owned());
    if filter.is_empty() || filter.len() > 65535 || filter.contains('\0') {
        return Err(bad());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('+') && *level != "+" {
            return Err(bad());
        }
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(p: &OutPacket) -> BytesMut {
        let mut out = BytesMut::new();
        p.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn frames_are_cut_only_when_complete() {
        // PUBLISH QoS 1, topic "a/b", pid 7, payload "hi" (MQTT 3.1.1 §3.3).
        let bytes = [0x32, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i', 0x40];
        for cut in 0..11 {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert!(split_frame(&mut buf, 1024).unwrap().is_none(), "cut {cut}");
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = split_frame(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(&buf[..], &[0x40]);
        assert_eq!(
            decode_frame(&frame).unwrap(),
            InPacket::Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                pid: Some(7),
                retain: false,
                topic: "a/b".into(),
                payload: Bytes::from_static(b"hi"),
            }
        );
    }

    #[test]
    fn oversized_and_malformed_lengths_are_refused() {
        // Remaining length 16384 (0x80 0x80 0x01) against a 1000-byte limit.
        let mut buf = BytesMut::from(&[0x30, 0x80, 0x80, 0x01][..]);
        assert!(matches!(
            split_frame(&mut buf, 1000),
            Err(LinkError::PacketTooLarge {
                size: 16384,
                max: 1000
            })
        ));
        // Five continuation bytes.
        let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01][..]);
        assert!(split_frame(&mut buf, usize::MAX).is_err());
    }

    #[test]
    fn short_packets_are_errors_not_panics() {
        for frame in [
            &[0x40, 0][..],                               // PUBACK without pid
            &[0x20, 1, 0][..],                            // CONNACK with 1 byte
            &[0x90, 2, 0, 1][..],                         // SUBACK without codes
            &[0x30, 2, 0, 9][..],                         // topic longer than the packet
            &[0x32, 5, 0, 3, b'a', b'b', b'c'][..],       // QoS 1 without pid
            &[0xb0, 0][..],                               // UNSUBACK without pid
            &[0xd0, 1, 0][..],                            // PINGRESP with a body
            &[0x10, 0][..],                               // CONNECT: never sent to a client
            &[0x40, 2, 0, 0][..],                         // PUBACK with pid 0
            &[0x34, 7, 0, 1, b'a', 0, 1, b'x', b'y'][..], // QoS 2
            &[0x30, 4, 0, 2, 0xff, 0xfe][..],             // topic not UTF-8
        ] {
            let mut buf = BytesMut::from(frame);
            let result = split_frame(&mut buf, 1024).and_then(|f| match f {
                Some(f) => decode_frame(&f),
                None => Err(LinkError::Protocol("incomplete".into())),
            });
            assert!(result.is_err(), "{frame:?} gave {result:?}");
        }
    }

    #[test]
    fn decodes_what_a_broker_sends() {
        assert_eq!(
            decode_frame(&[0x20, 2, 1, 0]).unwrap(),
            InPacket::Connack {
                session_present: true,
                code: 0
            }
        );
        assert_eq!(
            decode_frame(&[0x20, 2, 0, 5]).unwrap(),
            InPacket::Connack {
                session_present: false,
                code: 5
            }
        );
        assert_eq!(
            decode_frame(&[0x40, 2, 1, 2]).unwrap(),
            InPacket::Puback(258)
        );
        assert_eq!(
            decode_frame(&[0x90, 4, 0, 9, 1, 0x80]).unwrap(),
            InPacket::Suback {
                pid: 9,
                granted: vec![Some(QoS::AtLeastOnce), None]
            }
        );
        assert_eq!(
            decode_frame(&[0xb0, 2, 0, 3]).unwrap(),
            InPacket::Unsuback(3)
        );
        assert_eq!(decode_frame(&[0xd0, 0]).unwrap(), InPacket::Pingresp);
    }

    #[test]
    fn encodes_per_the_spec() {
        // MQTT 3.1.1 §3.1: CONNECT with will, username and password.
        let connect = OutPacket::Connect {
            client_id: "k1".into(),
            keep_alive: 30,
            clean_session: false,
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"p")),
            last_will: Some(LastWill {
                topic: "w".into(),
                payload: Bytes::from_static(b"off"),
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
        };
        let bytes = encode(&connect);
        assert_eq!(
            &bytes[..],
            &[
                0x10,
                28,
                0,
                4,
                b'M',
                b'Q',
                b'T',
                b'T',
                4,
                0b1110_1100, // user, password, will retain, will QoS 1, will flag; clean = 0
                0,
                30,
                0,
                2,
                b'k',
                b'1',
                0,
                1,
                b'w',
                0,
                3,
                b'o',
                b'f',
                b'f',
                0,
                1,
                b'u',
                0,
                1,
                b'p'
            ]
        );
        let publish = OutPacket::Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            pid: Some(7),
            retain: true,
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hi"),
        };
        assert_eq!(
            &encode(&publish)[..],
            &[0x3b, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i']
        );
        assert_eq!(&encode(&OutPacket::Puback(258))[..], &[0x40, 2, 1, 2]);
        assert_eq!(&encode(&OutPacket::Pingreq)[..], &[0xc0, 0]);
        assert_eq!(&encode(&OutPacket::Disconnect)[..], &[0xe0, 0]);
        let sub = OutPacket::Subscribe {
            pid: 1,
            filters: vec![("a/+".into(), QoS::AtLeastOnce)],
        };
        assert_eq!(
            &encode(&sub)[..],
            &[0x82, 8, 0, 1, 0, 3, b'a', b'/', b'+', 1]
        );
        let unsub = OutPacket::Unsubscribe {
            pid: 2,
            filters: vec!["a".into()],
        };
        assert_eq!(&encode(&unsub)[..], &[0xa2, 5, 0, 2, 0, 1, b'a']);
    }

    #[test]
    fn a_large_publish_round_trips_through_the_framer() {
        let payload = Bytes::from(vec![0x5a; 300_000]);
        let publish = OutPacket::Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            pid: None,
            retain: false,
            topic: "t".into(),
            payload: payload.clone(),
        };
        let mut buf = encode(&publish);
        let frame = split_frame(&mut buf, 1 << 20).unwrap().unwrap();
        match decode_frame(&frame).unwrap() {
            InPacket::Publish { payload: p, .. } => assert_eq!(p, payload),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn topic_names_and_filters_are_checked() {
        assert!(validate_topic_name("a/b").is_ok());
        for bad in ["", "a/+", "#", "a\0"] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
        for good in ["a/b", "a/+/c", "#", "a/#", "+", "+/+"] {
            assert!(validate_topic_filter(good).is_ok(), "{good:?}");
        }
        for bad in ["", "a/b#", "a/#/c", "a+/b", "a/+b"] {
            assert!(validate_topic_filter(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<InPacket, String>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        // Bounded: each round either consumes a frame or stops.
        for _ in 0..bytes.len() + 1 {
            match split_frame(&mut buf, 4096) {
                Ok(Some(frame)) => out.push(decode_frame(&frame).map_err(|e| e.to_string())),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    proptest! {
        /// Whatever a broker (or an attacker in its place) sends, decoding returns, never panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            decode_all(&bytes);
        }

        /// Plausible packets: a valid type byte and remaining length, random body.
        #[test]
        fn plausible_frames_never_panic(
            first in prop_oneof![Just(0x20u8), Just(0x30), Just(0x32), Just(0x34), Just(0x3b),
                                 Just(0x40), Just(0x90), Just(0xb0), Just(0xd0)],
            body in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut bytes = vec![first, body.len() as u8];
            bytes.extend_from_slice(&body);
            decode_all(&bytes);
        }

        /// What we encode, the framer cuts back out whole, at any split of the byte stream.
        #[test]
        fn encoded_publishes_frame_back(
            topic in "[a-z/]{1,20}",
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            pid in 1u16..,
            split in 0usize..400,
        ) {
            let p = OutPacket::Publish {
                dup: false, qos: QoS::AtLeastOnce, pid: Some(pid), retain: false,
                topic: topic.clone(), payload: Bytes::from(payload.clone()),
            };
            let mut wire = BytesMut::new();
            p.encode(&mut wire).unwrap();
            let split = split.min(wire.len());
            let mut buf = BytesMut::from(&wire[..split]);
            let early = split_frame(&mut buf, 4096).unwrap();
            prop_assert_eq!(early.is_some(), split == wire.len());
            buf.extend_from_slice(&wire[split..]);
            let frame = match early { Some(f) => f, None => split_frame(&mut buf, 4096).unwrap().unwrap() };
            prop_assert_eq!(decode_frame(&frame).unwrap(), InPacket::Publish {
                dup: false, qos: QoS::AtLeastOnce, pid: Some(pid), retain: false,
                topic, payload: Bytes::from(payload),
            });
        }
    }
}
