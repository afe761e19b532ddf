//! The measurement manifest of a blessed image: the hashes of its three measured files and
//! the PCR value a correct boot of it yields. The NNS registry stores one per blessed image
//! version; `cargo xtask image` writes it as JSON next to the image.

use crate::pcr::{Digest256, KEEL_PCR, LOADER_PCR, expected_keel_pcr, expected_loader_pcr, sha256};

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// SHA-256 of `\EFI\BOOT\BOOTX64.EFI` (the firmware measures it into PCR 4).
    pub loader_sha256: Digest256,
    pub kernel_sha256: Digest256,
    pub config_sha256: Digest256,
    /// The SHA-256 bank value of [`KEEL_PCR`] after the loader's measurements.
    pub keel_pcr: Digest256,
    /// The SHA-256 bank value of [`LOADER_PCR`] after the firmware started this loader
    /// (`None` if the loader is not a PE image, as in tests with stand-in bytes).
    pub loader_pcr: Option<Digest256>,
}

impl Manifest {
    /// The manifest of an image made of these files.
    pub fn of(loader: &[u8], kernel: &[u8], config: &[u8]) -> Self {
        let (kernel_sha256, config_sha256) = (sha256(kernel), sha256(config));
        Self {
            loader_sha256: sha256(loader),
            kernel_sha256,
            config_sha256,
            keel_pcr: expected_keel_pcr(&kernel_sha256, &config_sha256),
            loader_pcr: crate::pe::authenticode_sha256(loader).ok().map(|h| expected_loader_pcr(&h)),
        }
    }

    /// The expected value of `pcr`, if the manifest predicts it.
    pub fn expected_pcr(&self, pcr: u32) -> Option<Digest256> {
        match pcr {
            KEEL_PCR => Some(self.keel_pcr),
            LOADER_PCR => self.loader_pcr,
            _ => None,
        }
    }

    pub const fn keel_pcr_index(&self) -> u32 {
        KEEL_PCR
    }
}

#[cfg(all(feature = "host", not(any(target_os = "none", target_os = "uefi"))))]
mod json {
    use super::{MANIFEST_VERSION, Manifest};
    use crate::hex;
    use serde_json::{Value, json};

    impl Manifest {
        /// The manifest as JSON; `extra` (sizes, paths) is added under `"image"`.
        pub fn to_json(&self, extra: Value) -> String {
            let mut pcrs = serde_json::Map::new();
            if let Some(loader) = &self.loader_pcr {
                pcrs.insert(super::LOADER_PCR.to_string(), Value::String(hex::encode(loader)));
            }
            pcrs.insert(super::KEEL_PCR.to_string(), Value::String(hex::encode(&self.keel_pcr)));
            let value = json!({
                "version": MANIFEST_VERSION,
                "sha256": {
                    "loader": hex::encode(&self.loader_sha256),
                    "kernel": hex::encode(&self.kernel_sha256),
                    "config": hex::encode(&self.config_sha256),
                },
                "pcrs": { "sha256": pcrs },
                "image": extra,
            });
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }

        /// Reads a manifest written by [`Manifest::to_json`].
        pub fn from_json(text: &str) -> Result<Self, String> {
            let v: Value = serde_json::from_str(text).map_err(|e| format!("manifest is not JSON: {e}"))?;
            if v["version"] != json!(MANIFEST_VERSION) {
                return Err(format!("manifest version {} is not {MANIFEST_VERSION}", v["version"]));
            }
            let digest = |value: &Value, what: &str| -> Result<[u8; 32], String> {
                let text = value.as_str().ok_or_else(|| format!("manifest lacks {what}"))?;
                hex::decode_array(text).map_err(|e| format!("manifest {what}: {e}"))
            };
            let pcr_key = super::KEEL_PCR.to_string();
            Ok(Self {
                loader_sha256: digest(&v["sha256"]["loader"], "sha256.loader")?,
                kernel_sha256: digest(&v["sha256"]["kernel"], "sha256.kernel")?,
                config_sha256: digest(&v["sha256"]["config"], "sha256.config")?,
                keel_pcr: digest(&v["pcrs"]["sha256"][&pcr_key], "pcrs.sha256.9")?,
                loader_pcr: match &v["pcrs"]["sha256"][&super::LOADER_PCR.to_string()] {
                    Value::Null => None,
                    value => Some(digest(value, "pcrs.sha256.4")?),
                },
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn json_round_trips_and_names_missing_fields() {
            let m = Manifest::of(b"loader", b"kernel", b"config");
            let text = m.to_json(json!({ "bytes": 1 }));
            assert_eq!(Manifest::from_json(&text), Ok(m));
            assert!(Manifest::from_json("{\"version\": 1}").is_err_and(|e| e.contains("sha256.loader")));
        }
    }
}
