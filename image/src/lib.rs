//! Image: node configuration and the flashable GPT disk image (filled in by the image issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
