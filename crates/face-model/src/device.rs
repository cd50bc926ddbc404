//! Devices: Flex on the CPU always; wgpu when compiled in and an adapter exists.
//!
//! With no adapter, wgpu panics at the first tensor operation; [`wgpu`] initialises it
//! through Burn's fallible path instead and reports what it found, so callers can fall
//! back or skip with a message.

use burn::prelude::*;

/// The pure-Rust CPU device.
pub fn flex() -> Device {
    Device::flex()
}

/// A wgpu device and what it runs on.
#[derive(Debug, Clone)]
pub struct WgpuDevice {
    /// The device to put tensors and modules on.
    pub device: Device,
    /// The adapter's name and backend, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub adapter: String,
    /// True for a software adapter (Mesa's lavapipe): it works, slowly.
    pub software: bool,
}

/// The process's wgpu device, initialised once; `Err` says why there is none.
#[cfg(feature = "wgpu")]
pub fn wgpu() -> Result<WgpuDevice, String> {
    use std::sync::OnceLock;
    static WGPU: OnceLock<Result<WgpuDevice, String>> = OnceLock::new();
    WGPU.get_or_init(|| {
        // Some drivers panic instead of returning an error; contain that too.
        let attempt = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
        match attempt {
            Ok(Ok((device, setup))) => {
                let info = setup.adapter.get_info();
                Ok(WgpuDevice {
                    device,
                    adapter: format!("{} ({:?})", info.name, info.backend),
                    software: info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu,
                })
            }
            Ok(Err(e)) => Err(format!("no usable wgpu adapter: {e}")),
            Err(_) => Err("no usable wgpu adapter: initialisation panicked".into()),
        }
    })
    .clone()
}

/// Without the `wgpu` feature there is never a wgpu device.
#[cfg(not(feature = "wgpu"))]
pub fn wgpu() -> Result<WgpuDevice, String> {
    Err("this build has no wgpu support (built without the `wgpu` feature)".into())
}
