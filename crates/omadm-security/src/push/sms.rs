//! WDP over SMS: the user data header (3GPP TS 23.040 §9.2.3.24) with 16-bit application ports and
//! concatenation, splitting a payload into 8-bit SMS user data and reassembling it (digest §9:
//! WAP Push to WDP port 2948, concatenated SMS allowed).

use std::collections::VecDeque;

use crate::error::PushError;

/// Largest 8-bit SMS user data (TP-UD), in bytes.
pub const MAX_USER_DATA: usize = 140;

const IEI_CONCAT_8: u8 = 0x00;
const IEI_PORTS_8: u8 = 0x04;
const IEI_PORTS_16: u8 = 0x05;
const IEI_CONCAT_16: u8 = 0x08;

/// WDP application port addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port (2948 for WAP Push connectionless).
    pub destination: u16,
    /// Originator port.
    pub source: u16,
}

/// The concatenation reference; its width picks the information element (0x00 or 0x08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcatRef {
    /// 8-bit reference (IE 0x00).
    Eight(u8),
    /// 16-bit reference (IE 0x08).
    Sixteen(u16),
}

impl ConcatRef {
    /// The reference number.
    pub const fn value(self) -> u16 {
        match self {
            ConcatRef::Eight(v) => v as u16,
            ConcatRef::Sixteen(v) => v,
        }
    }
}

/// Concatenation data of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// The message reference, the same in all segments.
    pub reference: ConcatRef,
    /// Number of segments (1–255).
    pub total: u8,
    /// This segment's number (1–total).
    pub sequence: u8,
}

/// One SMS user data: header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSegment {
    /// 16-bit application ports (8-bit ports are read into the same struct).
    pub ports: Option<Ports>,
    /// Concatenation data, when the payload was split.
    pub concat: Option<Concat>,
    /// The payload bytes of this segment.
    pub payload: Vec<u8>,
}

impl SmsSegment {
    /// The header bytes (UDHL and elements), empty when there is nothing to say.
    fn header(&self) -> Vec<u8> {
        let mut ies = Vec::new();
        if let Some(p) = self.ports {
            ies.extend_from_slice(&[IEI_PORTS_16, 4]);
            ies.extend_from_slice(&p.destination.to_be_bytes());
            ies.extend_from_slice(&p.source.to_be_bytes());
        }
        if let Some(c) = self.concat {
            match c.reference {
                ConcatRef::Eight(r) => ies.extend_from_slice(&[IEI_CONCAT_8, 3, r]),
                ConcatRef::Sixteen(r) => {
                    ies.extend_from_slice(&[IEI_CONCAT_16, 4]);
                    ies.extend_from_slice(&r.to_be_bytes());
                }
            }
            ies.extend_from_slice(&[c.total, c.sequence]);
        }
        if ies.is_empty() {
            return ies;
        }
        let mut out = vec![ies.len() as u8];
        out.extend(ies);
        out
    }

    /// Encodes the user data (TP-UD) of this segment; TP-UDHI must be set when a header is present
    /// ([`SmsSegment::has_header`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.payload);
        out
    }

    /// Whether the encoded user data starts with a header (the TP-UDHI bit).
    pub fn has_header(&self) -> bool {
        self.ports.is_some() || self.concat.is_some()
    }

    /// Decodes user data that starts with a header (TP-UDHI set). Unknown elements are skipped.
    pub fn decode(user_data: &[u8]) -> Result<SmsSegment, PushError> {
        let (&udhl, rest) = user_data.split_first().ok_or(PushError::Truncated("user data header length"))?;
        let udhl = usize::from(udhl);
        let mut ies = rest.get(..udhl).ok_or(PushError::UdhPastEnd { length: udhl, available: rest.len() })?;
        let payload = rest.get(udhl..).unwrap_or_default().to_vec();
        let mut seg = SmsSegment { ports: None, concat: None, payload };
        while let [iei, len, tail @ ..] = ies {
            let len = usize::from(*len);
            let data = tail.get(..len).ok_or(PushError::BadInformationElement { iei: *iei, length: len })?;
            let bad = || PushError::BadInformationElement { iei: *iei, length: len };
            match (*iei, data) {
                (IEI_PORTS_16, [d1, d2, s1, s2]) => {
                    seg.ports = Some(Ports {
                        destination: u16::from_be_bytes([*d1, *d2]),
                        source: u16::from_be_bytes([*s1, *s2]),
                    });
                }
                (IEI_PORTS_8, [d, s]) => {
                    seg.ports = Some(Ports { destination: u16::from(*d), source: u16::from(*s) });
                }
                (IEI_CONCAT_8, [r, total, seq]) => {
                    seg.concat = Some(check_concat(ConcatRef::Eight(*r), *total, *seq)?);
                }
                (IEI_CONCAT_16, [r1, r2, total, seq]) => {
                    seg.concat = Some(check_concat(ConcatRef::Sixteen(u16::from_be_bytes([*r1, *r2])), *total, *seq)?);
                }
                (IEI_PORTS_16 | IEI_PORTS_8 | IEI_CONCAT_8 | IEI_CONCAT_16, _) => return Err(bad()),
                _ => {}
            }
            ies = tail.get(len..).unwrap_or_default();
        }
        if let [iei] = ies {
            return Err(PushError::BadInformationElement { iei: *iei, length: 0 });
        }
        Ok(seg)
    }
}

fn check_concat(reference: ConcatRef, total: u8, sequence: u8) -> Result<Concat, PushError> {
    if total == 0 || sequence == 0 || sequence > total {
        return Err(PushError::BadConcatenation { sequence, total });
    }
    Ok(Concat { reference, total, sequence })
}

/// Splits `payload` into SMS segments of at most `max_user_data` bytes each, with the ports in
/// every segment and, when more than one is needed, concatenation data with `reference`.
pub fn split(
    payload: &[u8],
    ports: Ports,
    reference: ConcatRef,
    max_user_data: usize,
) -> Result<Vec<SmsSegment>, PushError> {
    let single = SmsSegment { ports: Some(ports), concat: None, payload: payload.to_vec() };
    if single.header().len() + payload.len() <= max_user_data {
        return Ok(vec![single]);
    }
    let probe = SmsSegment {
        ports: Some(ports),
        concat: Some(Concat { reference, total: 1, sequence: 1 }),
        payload: Vec::new(),
    };
    let room = max_user_data.saturating_sub(probe.header().len());
    if room == 0 {
        return Err(PushError::SegmentTooSmall(max_user_data));
    }
    let total = u8::try_from(payload.len().div_ceil(room)).map_err(|_| PushError::TooLong(payload.len()))?;
    Ok(payload
        .chunks(room)
        .zip(1..=total)
        .map(|(chunk, sequence)| SmsSegment {
            ports: Some(ports),
            concat: Some(Concat { reference, total, sequence }),
            payload: chunk.to_vec(),
        })
        .collect())
}

/// A payload put back together, with the ports it was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// The ports of the segments.
    pub ports: Option<Ports>,
    /// The whole payload.
    pub payload: Vec<u8>,
}

/// One message being reassembled.
#[derive(Debug, Clone)]
struct Partial {
    origin: String,
    reference: u16,
    ports: Option<Ports>,
    parts: Vec<Option<Vec<u8>>>,
}

/// Reassembles concatenated SMS. Segments are keyed by the sender (given by the caller) and the
/// reference; at most `capacity` incomplete messages are kept, the oldest dropped first. No clock is
/// used: a caller that wants a timeout drops the reassembler's state on its own schedule.
#[derive(Debug, Clone)]
pub struct Reassembler {
    partial: VecDeque<Partial>,
    capacity: usize,
}

impl Reassembler {
    /// Incomplete messages kept by a default reassembler.
    pub const DEFAULT_CAPACITY: usize = 16;

    /// A reassembler keeping at most `capacity` incomplete messages (at least 1).
    pub fn new(capacity: usize) -> Reassembler {
        Reassembler { partial: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Number of incomplete messages held.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Adds a segment from `origin`; returns the whole payload once every segment has arrived.
    /// An identical duplicate is ignored; a conflicting one or a changed total is an error.
    pub fn add(&mut self, origin: &str, segment: SmsSegment) -> Result<Option<Reassembled>, PushError> {
        let Some(c) = segment.concat else {
            return Ok(Some(Reassembled { ports: segment.ports, payload: segment.payload }));
        };
        let c = check_concat(c.reference, c.total, c.sequence)?;
        let reference = c.reference.value();
        let inconsistent = PushError::InconsistentSegment { reference, sequence: c.sequence };
        let index = match self.partial.iter().position(|p| p.origin == origin && p.reference == reference) {
            Some(i) => i,
            None => {
                if self.partial.len() == self.capacity {
                    self.partial.pop_front();
                }
                self.partial.push_back(Partial {
                    origin: origin.to_owned(),
                    reference,
                    ports: segment.ports,
                    parts: vec![None; usize::from(c.total)],
                });
                self.partial.len() - 1
            }
        };
        let entry = self.partial.get_mut(index).ok_or(inconsistent.clone())?;
        if entry.parts.len() != usize::from(c.total) || entry.ports != segment.ports {
            return Err(inconsistent);
        }
        let slot = entry.parts.get_mut(usize::from(c.sequence).saturating_sub(1)).ok_or(inconsistent)?;
        match slot {
            Some(existing) if *existing == segment.payload => return Ok(None),
            Some(_) => return Err(PushError::ConflictingDuplicate { reference, sequence: c.sequence }),
            None => *slot = Some(segment.payload),
        }
        if entry.parts.iter().any(Option::is_none) {
            return Ok(None);
        }
        let done =
            self.partial.remove(index).ok_or(PushError::InconsistentSegment { reference, sequence: c.sequence })?;
        Ok(Some(Reassembled { ports: done.ports, payload: done.parts.into_iter().flatten().flatten().collect() }))
    }
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: Ports = Ports { destination: 2948, source: 0xC002 };

    #[test]
    fn single_segment_header_matches_the_spec_bytes() {
        let segs = split(b"abc", PORTS, ConcatRef::Eight(1), MAX_USER_DATA).expect("split");
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].encode(), [0x06, 0x05, 0x04, 0x0B, 0x84, 0xC0, 0x02, b'a', b'b', b'c']);
        assert_eq!(SmsSegment::decode(&segs[0].encode()), Ok(segs[0].clone()));
    }

    #[test]
    fn long_payloads_are_split_and_reassembled_in_any_order() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        for reference in [ConcatRef::Eight(7), ConcatRef::Sixteen(0x1234)] {
            let segs = split(&payload, PORTS, reference, MAX_USER_DATA).expect("split");
            assert_eq!(segs.len(), 4);
            assert!(segs.iter().all(|s| s.encode().len() <= MAX_USER_DATA));
            let mut r = Reassembler::default();
            let mut results = Vec::new();
            for s in segs.iter().rev() {
                let decoded = SmsSegment::decode(&s.encode()).expect("decode");
                assert_eq!(&decoded, s);
                results.push(r.add("+100", decoded).expect("add"));
            }
            let last = results.pop().flatten().expect("complete after the last segment");
            assert!(results.iter().all(Option::is_none));
            assert_eq!(last, Reassembled { ports: Some(PORTS), payload: payload.clone() });
            assert_eq!(r.pending(), 0);
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        assert_eq!(SmsSegment::decode(&[]), Err(PushError::Truncated("user data header length")));
        assert_eq!(SmsSegment::decode(&[5, 0x05, 0x04]), Err(PushError::UdhPastEnd { length: 5, available: 2 }));
        assert_eq!(
            SmsSegment::decode(&[3, 0x05, 0x02, 0x0B]),
            Err(PushError::BadInformationElement { iei: 5, length: 2 })
        );
        assert_eq!(
            SmsSegment::decode(&[5, 0x00, 0x03, 1, 2, 3]),
            Err(PushError::BadConcatenation { sequence: 3, total: 2 })
        );
        assert_eq!(SmsSegment::decode(&[2, 0x05, 0x09]), Err(PushError::BadInformationElement { iei: 5, length: 9 }));
        // Unknown elements are skipped.
        let s = SmsSegment::decode(&[3, 0x70, 0x01, 0xff, 0xAA]).expect("decode");
        assert_eq!(s.payload, [0xAA]);
    }

    #[test]
    fn reassembly_refuses_inconsistencies() {
        let seg = |total, sequence, payload: &[u8]| SmsSegment {
            ports: Some(PORTS),
            concat: Some(Concat { reference: ConcatRef::Eight(1), total, sequence }),
            payload: payload.to_vec(),
        };
        let mut r = Reassembler::default();
        assert_eq!(r.add("a", seg(2, 1, b"x")), Ok(None));
        assert_eq!(r.add("a", seg(2, 1, b"x")), Ok(None), "identical duplicate ignored");
        assert_eq!(r.add("a", seg(2, 1, b"y")), Err(PushError::ConflictingDuplicate { reference: 1, sequence: 1 }));
        assert_eq!(r.add("a", seg(3, 2, b"y")), Err(PushError::InconsistentSegment { reference: 1, sequence: 2 }));
        assert_eq!(r.add("b", seg(2, 2, b"z")), Ok(None), "another sender is another message");
        assert_eq!(r.add("a", seg(2, 2, b"y")).expect("add").map(|d| d.payload), Some(b"xy".to_vec()));
    }

    #[test]
    fn capacity_bounds_memory_and_sizes_are_checked() {
        let mut r = Reassembler::new(1);
        let seg = |reference| SmsSegment {
            ports: None,
            concat: Some(Concat { reference: ConcatRef::Eight(reference), total: 2, sequence: 1 }),
            payload: vec![1],
        };
        assert_eq!(r.add("a", seg(1)), Ok(None));
        assert_eq!(r.add("a", seg(2)), Ok(None));
        assert_eq!(r.pending(), 1);
        assert_eq!(split(&[0; 10], PORTS, ConcatRef::Eight(1), 12), Err(PushError::SegmentTooSmall(12)));
        assert_eq!(split(&[0; 40_000], PORTS, ConcatRef::Eight(1), MAX_USER_DATA), Err(PushError::TooLong(40_000)));
    }
}
