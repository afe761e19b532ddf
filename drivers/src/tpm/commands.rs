//! Marshalling of the TPM 2.0 commands the node uses (TPM 2.0 Library, Part 3) and parsing
//! of their responses. Big-endian throughout; pure code, unit-tested on the host.

use alloc::vec::Vec;

const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;
const CC_CREATE_PRIMARY: u32 = 0x0131;
const CC_FLUSH_CONTEXT: u32 = 0x0165;
const CC_PCR_READ: u32 = 0x017e;
const CC_QUOTE: u32 = 0x0158;
const RH_ENDORSEMENT: u32 = 0x4000_000b;
const RS_PW: u32 = 0x4000_0009;
const ALG_ECC: u16 = 0x0023;
const ALG_SHA256: u16 = 0x000b;
const ALG_NULL: u16 = 0x0010;
const ALG_ECDSA: u16 = 0x0018;
const ECC_NIST_P256: u16 = 0x0003;
/// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign: an
/// attestation key that never leaves the TPM and signs only TPM-generated structures.
const AK_ATTRIBUTES: u32 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 16) | (1 << 18);

/// What the TPM returned for a quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpmQuote {
    /// The attestation key, SEC1 uncompressed (`04 ‖ x ‖ y`).
    pub ak_public: [u8; 65],
    /// The quoted PCRs' values as read just before quoting, in the caller's order.
    pub pcr_values: Vec<[u8; 32]>,
    /// The signed `TPMS_ATTEST`.
    pub quoted: Vec<u8>,
    /// ECDSA P-256 `r ‖ s` over SHA-256(`quoted`).
    pub signature: [u8; 64],
}

/// A created primary key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryKey {
    pub handle: u32,
    pub public: [u8; 65],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The TPM answered with this response code.
    Tpm(u32),
    /// The response does not have the structure the command defines.
    Malformed(&'static str),
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tpm(rc) => write!(f, "TPM response code {rc:#x}"),
            Self::Malformed(what) => write!(f, "malformed TPM response: {what}"),
        }
    }
}

/// A command under construction: header first, size patched in at the end.
struct Command(Vec<u8>);

impl Command {
    fn new(tag: u16, code: u32) -> Self {
        let mut c = Self(Vec::with_capacity(64));
        c.u16(tag).u32(0).u32(code);
        c
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A `TPM2B_*`: u16 length, then the bytes.
    fn sized(&mut self, bytes: &[u8]) -> &mut Self {
        self.u16(bytes.len() as u16);
        self.0.extend_from_slice(bytes);
        self
    }
    /// An authorization area with one empty password session (hierarchies and our key have
    /// empty auth values).
    fn password_auth(&mut self) -> &mut Self {
        self.u32(9).u32(RS_PW).u16(0).u8(0).u16(0)
    }
    /// `TPML_PCR_SELECTION` of PCRs (0..24) in the SHA-256 bank.
    fn pcr_selection(&mut self, pcrs: &[u32]) -> &mut Self {
        let mut bitmap = [0u8; 3];
        for &pcr in pcrs {
            if let Some(byte) = bitmap.get_mut((pcr / 8) as usize) {
                *byte |= 1 << (pcr % 8);
            }
        }
        self.u32(1).u16(ALG_SHA256).u8(3);
        self.0.extend_from_slice(&bitmap);
        self
    }
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() as u32).to_be_bytes();
        self.0[2..6].copy_from_slice(&len);
        self.0
    }
}

/// `TPM2_PCR_Read` of one SHA-256 PCR.
pub fn pcr_read(pcr: u32) -> Vec<u8> {
    let mut c = Command::new(ST_NO_SESSIONS, CC_PCR_READ);
    c.pcr_selection(&[pcr]);
    c.finish()
}

/// `TPM2_CreatePrimary` of an ECC P-256 ECDSA/SHA-256 attestation key in the endorsement
/// hierarchy: derived from the TPM's endorsement seed, so the same on every boot.
pub fn create_primary_attestation_key() -> Vec<u8> {
    let mut public = Command(Vec::new());
    public.u16(ALG_ECC).u16(ALG_SHA256).u32(AK_ATTRIBUTES).sized(&[]);
    // TPMS_ECC_PARMS: no symmetric, ECDSA with SHA-256, P-256, no KDF; empty unique point.
    public.u16(ALG_NULL).u16(ALG_ECDSA).u16(ALG_SHA256).u16(ECC_NIST_P256).u16(ALG_NULL);
    public.sized(&[]).sized(&[]);
    let mut c = Command::new(ST_SESSIONS, CC_CREATE_PRIMARY);
    c.u32(RH_ENDORSEMENT).password_auth();
    c.u16(4).sized(&[]).sized(&[]); // inSensitive: empty userAuth and data
    c.sized(&public.0);
    c.sized(&[]); // outsideInfo
    c.u32(0); // creationPCR: none
    c.finish()
}

/// `TPM2_Quote` of SHA-256 PCRs with the key's own scheme.
pub fn quote(key: u32, qualifying_data: &[u8; 32], pcrs: &[u32]) -> Vec<u8> {
    let mut c = Command::new(ST_SESSIONS, CC_QUOTE);
    c.u32(key).password_auth();
    c.sized(qualifying_data).u16(ALG_NULL).pcr_selection(pcrs);
    c.finish()
}

/// `TPM2_FlushContext`.
pub fn flush_context(handle: u32) -> Vec<u8> {
    let mut c = Command::new(ST_NO_SESSIONS, CC_FLUSH_CONTEXT);
    c.u32(handle);
    c.finish()
}

/// A response being read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CommandError> {
        if self.0.len() < n {
            return Err(CommandError::Malformed(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CommandError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, CommandError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CommandError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn sized(&mut self, what: &'static str) -> Result<&'a [u8], CommandError> {
        let n = usize::from(self.u16(what)?);
        self.take(n, what)
    }
}

/// Checks the response code; returns a reader positioned after the header.
fn body(response: &[u8]) -> Result<Reader<'_>, CommandError> {
    let mut r = Reader(response);
    r.take(6, "header")?;
    match r.u32("response code")? {
        0 => Ok(r),
        rc => Err(CommandError::Tpm(rc)),
    }
}

/// Whether the TPM asks for the command to be sent again (`TPM_RC_RETRY`, `TPM_RC_YIELDED`,
/// `TPM_RC_TESTING`).
pub fn is_retry(response: &[u8]) -> bool {
    matches!(body(response), Err(CommandError::Tpm(0x922 | 0x908 | 0x90a)))
}

/// Checks a response that carries nothing but its code.
pub fn check(response: &[u8]) -> Result<(), CommandError> {
    body(response).map(|_| ())
}

pub fn parse_pcr_read(response: &[u8]) -> Result<[u8; 32], CommandError> {
    let mut r = body(response)?;
    r.u32("update counter")?;
    for _ in 0..r.u32("selection count")? {
        r.u16("selection hash")?;
        let size = usize::from(r.u8("selection size")?);
        r.take(size, "selection bitmap")?;
    }
    if r.u32("digest count")? != 1 {
        return Err(CommandError::Malformed("PCR_Read did not return exactly one digest"));
    }
    r.sized("digest")?.try_into().map_err(|_| CommandError::Malformed("PCR digest is not 32 bytes"))
}

/// A P-256 coordinate, left-padded to 32 bytes.
fn coordinate(bytes: &[u8]) -> Result<[u8; 32], CommandError> {
    if bytes.len() > 32 {
        return Err(CommandError::Malformed("coordinate longer than 32 bytes"));
    }
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

pub fn parse_create_primary(response: &[u8]) -> Result<PrimaryKey, CommandError> {
    let mut r = body(response)?;
    let handle = r.u32("object handle")?;
    r.u32("parameter size")?;
    let mut public = Reader(r.sized("outPublic")?);
    if public.u16("type")? != ALG_ECC {
        return Err(CommandError::Malformed("created key is not an ECC key"));
    }
    public.u16("name algorithm")?;
    public.u32("attributes")?;
    public.sized("auth policy")?;
    if public.u16("symmetric")? != ALG_NULL {
        public.take(4, "symmetric details")?;
    }
    if public.u16("scheme")? != ALG_NULL {
        public.u16("scheme hash")?;
    }
    if public.u16("curve")? != ECC_NIST_P256 {
        return Err(CommandError::Malformed("created key is not on P-256"));
    }
    if public.u16("kdf")? != ALG_NULL {
        public.u16("kdf hash")?;
    }
    let x = coordinate(public.sized("x")?)?;
    let y = coordinate(public.sized("y")?)?;
    let mut point = [0u8; 65];
    point[0] = 4;
    point[1..33].copy_from_slice(&x);
    point[33..].copy_from_slice(&y);
    Ok(PrimaryKey { handle, public: point })
}

/// (the `TPMS_ATTEST` bytes, the ECDSA signature `r ‖ s`).
pub fn parse_quote(response: &[u8]) -> Result<(Vec<u8>, [u8; 64]), CommandError> {
    let mut r = body(response)?;
    r.u32("parameter size")?;
    let quoted = r.sized("quoted")?.to_vec();
    if r.u16("signature algorithm")? != ALG_ECDSA {
        return Err(CommandError::Malformed("quote is not signed with ECDSA"));
    }
    r.u16("signature hash")?;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&coordinate(r.sized("signature r")?)?);
    signature[32..].copy_from_slice(&coordinate(r.sized("signature s")?)?);
    Ok((quoted, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn response(body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80, 0x01];
        out.extend_from_slice(&((10 + body.len()) as u32).to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn commands_carry_their_size_and_code() {
        // tpm2_pcrread sha256:9 sends exactly these bytes.
        assert_eq!(
            pcr_read(9),
            [0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0x01, 0x7e, 0, 0, 0, 1, 0, 0x0b, 3, 0, 2, 0]
        );
        let cp = create_primary_attestation_key();
        assert_eq!(u32::from_be_bytes([cp[2], cp[3], cp[4], cp[5]]) as usize, cp.len());
        assert_eq!(&cp[6..14], &[0, 0, 0x01, 0x31, 0x40, 0, 0, 0x0b]);
        assert_eq!(flush_context(0x8000_0000), [0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65, 0x80, 0, 0, 0]);
        let q = quote(0x8000_0000, &[7; 32], &[4, 9]);
        assert_eq!(&q[q.len() - 3..], &[0x10, 0x02, 0]);
        assert_eq!(u32::from_be_bytes([q[2], q[3], q[4], q[5]]) as usize, q.len());
    }

    #[test]
    fn parses_responses() {
        let mut pcr = vec![0, 0, 0, 5, 0, 0, 0, 1, 0, 0x0b, 3, 0, 2, 0, 0, 0, 0, 1, 0, 32];
        pcr.extend_from_slice(&[0xab; 32]);
        assert_eq!(parse_pcr_read(&response(&pcr)), Ok([0xab; 32]));

        let mut public = vec![0, 0x23, 0, 0x0b, 0, 5, 0, 0x72, 0, 0, 0, 0x10, 0, 0x18, 0, 0x0b, 0, 3, 0, 0x10];
        public.extend_from_slice(&[0, 32]);
        public.extend_from_slice(&[1; 32]);
        public.extend_from_slice(&[0, 31]); // a y with its leading zero byte dropped
        public.extend_from_slice(&[2; 31]);
        let mut cp = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
        cp.extend_from_slice(&(public.len() as u16).to_be_bytes());
        cp.extend_from_slice(&public);
        let key = parse_create_primary(&response(&cp)).expect("key");
        assert_eq!(key.handle, 0x8000_0001);
        assert_eq!((key.public[0], key.public[1], key.public[33], key.public[34]), (4, 1, 0, 2));

        let mut q = vec![0, 0, 0, 0, 0, 3, 9, 9, 9, 0, 0x18, 0, 0x0b, 0, 32];
        q.extend_from_slice(&[5; 32]);
        q.extend_from_slice(&[0, 32]);
        q.extend_from_slice(&[6; 32]);
        let (quoted, sig) = parse_quote(&response(&q)).expect("quote");
        assert_eq!(quoted, [9, 9, 9]);
        assert_eq!((sig[0], sig[63]), (5, 6));
    }

    #[test]
    fn error_codes_and_short_responses_are_errors() {
        let mut failed = response(&[]);
        failed[9] = 0x84; // TPM_RC_VALUE | parameter
        assert_eq!(check(&failed), Err(CommandError::Tpm(0x84)));
        assert!(!is_retry(&failed));
        failed[8..10].copy_from_slice(&[0x09, 0x22]);
        assert!(is_retry(&failed));
        assert!(matches!(parse_pcr_read(&response(&[0, 0])), Err(CommandError::Malformed(_))));
    }
}
