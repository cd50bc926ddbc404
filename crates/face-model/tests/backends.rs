//! Flex and wgpu agree on the same weights. Skips, with a message, when no wgpu adapter
//! exists (Mesa's lavapipe counts as one: `apt-get install mesa-vulkan-drivers`).

mod common;

use burn::prelude::*;
use common::*;
use face_model::batch::tokens_from_ids;
use face_model::{RunOptions, Weights, device};

#[test]
fn flex_and_wgpu_give_the_same_logits_within_1e_4() {
    let gpu = match device::wgpu() {
        Ok(g) => g,
        Err(why) => {
            // CI installs lavapipe and sets FACE_REQUIRE_WGPU=1, so a broken install fails there.
            assert!(
                std::env::var_os("FACE_REQUIRE_WGPU").is_none(),
                "FACE_REQUIRE_WGPU is set but {why}"
            );
            eprintln!("skipped: {why}");
            return;
        }
    };
    eprintln!("wgpu adapter: {} (software: {})", gpu.adapter, gpu.software);
    let cfg = default_config();
    let w = Weights::from_model(&random_model(&cfg, 77));
    let cpu_model = w.to_model(&cfg, &Device::flex());
    let gpu_model = w.to_model(&cfg, &gpu.device);
    let ids = random_ids(&cfg, 256, 78);
    let a = vals(
        cpu_model
            .forward(tokens_from_ids(&ids, 12, &Device::flex()))
            .logit,
    );
    let b = vals(
        gpu_model
            .forward(tokens_from_ids(&ids, 12, &gpu.device))
            .logit,
    );
    let diff = max_abs_diff(&a, &b);
    eprintln!("flex vs wgpu max |Δlogit| = {diff:e} on 256 inputs");
    assert!(diff <= 1e-4, "{diff}");
    // The instrumented path runs on wgpu too.
    let run = gpu_model.run(
        tokens_from_ids(&ids, 12, &gpu.device),
        &RunOptions::cached(),
    );
    assert_eq!(run.cache.expect("cache").pattern.dims(), [256, 12, 12]);
    // Weights read back from the GPU equal what was put there.
    assert_eq!(Weights::from_model(&gpu_model), w);
}
