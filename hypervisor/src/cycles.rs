//! Cycles: the `Cycles` amount type, the IC fee table scaled to the subnet, and the
//! freezing threshold. All fees come from one [`CyclesConfig`], so what is charged and
//! what the cost functions (`ic0.cost_*`) report cannot drift apart.

pub use keel_sandbox::Cycles;

/// Checked arithmetic the hypervisor needs on [`Cycles`] (the type itself saturates):
/// an unchecked wrap would mint cycles out of nothing.
pub trait CyclesExt: Sized {
    fn checked_sub(self, rhs: Cycles) -> Option<Cycles>;
}

impl CyclesExt for Cycles {
    fn checked_sub(self, rhs: Cycles) -> Option<Cycles> {
        self.get().checked_sub(rhs.get()).map(Cycles::new)
    }
}

/// What kind of subnet this is. Data-only subnets host state but may not call out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum SubnetType {
    Application,
    /// NNS-style: every fee is zero.
    System,
    /// Canisters hold and serve data; outgoing inter-canister calls are rejected.
    DataOnly,
}

impl SubnetType {
    /// The label published at `/subnet/<id>/type`. Data-only is a Keel kind that agents do
    /// not know; it certifies as `application` because clients treat unknown kinds as errors.
    pub fn label(self) -> &'static str {
        match self {
            SubnetType::Application | SubnetType::DataOnly => "application",
            SubnetType::System => "system",
        }
    }

    pub fn allows_outgoing_calls(self) -> bool {
        self != SubnetType::DataOnly
    }
}

/// Reference subnet size of the IC fee table (ic-reference §9).
pub const REFERENCE_SUBNET_SIZE: u128 = 13;
const GIB: u128 = 1 << 30;
pub const SECONDS_PER_DAY: u128 = 86_400;

/// The fee table for a 13-node application subnet (ic-reference §9).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FeeTable {
    pub canister_creation: u128,
    pub update_message_base: u128,
    /// Charged per 10 instructions.
    pub ten_instructions: u128,
    pub ingress_message_reception: u128,
    pub ingress_byte_reception: u128,
    pub xnet_call: u128,
    pub xnet_byte: u128,
    pub gib_storage_per_second: u128,
    pub compute_percent_per_second: u128,
}

impl FeeTable {
    pub const IC_13_NODES: FeeTable = FeeTable {
        canister_creation: 500_000_000_000,
        update_message_base: 5_000_000,
        ten_instructions: 10,
        ingress_message_reception: 1_200_000,
        ingress_byte_reception: 2_000,
        xnet_call: 260_000,
        xnet_byte: 1_000,
        gib_storage_per_second: 127_000,
        compute_percent_per_second: 10_000_000,
    };
}

/// Fees of one subnet: the table scaled by `n/13`, or zero on system subnets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CyclesConfig {
    table: FeeTable,
    subnet_size: u128,
    free: bool,
}

impl CyclesConfig {
    pub fn new(subnet_type: SubnetType, subnet_size: u32) -> CyclesConfig {
        CyclesConfig {
            table: FeeTable::IC_13_NODES,
            subnet_size: u128::from(subnet_size.max(1)),
            free: subnet_type == SubnetType::System,
        }
    }

    fn scale(&self, fee: u128) -> Cycles {
        if self.free {
            return Cycles::ZERO;
        }
        Cycles::new(fee.saturating_mul(self.subnet_size) / REFERENCE_SUBNET_SIZE)
    }

    pub fn canister_creation(&self) -> Cycles {
        self.scale(self.table.canister_creation)
    }

    /// Base fee of executing one update, heartbeat, timer or response.
    pub fn update_message_base(&self) -> Cycles {
        self.scale(self.table.update_message_base)
    }

    /// Price of `n` instructions (charged per started block of ten).
    pub fn instructions(&self, n: u64) -> Cycles {
        self.scale(u128::from(n).div_ceil(10).saturating_mul(self.table.ten_instructions))
    }

    /// Fee to accept an ingress message of `bytes` bytes (method name + argument).
    pub fn ingress(&self, bytes: usize) -> Cycles {
        let per_byte = (bytes as u128).saturating_mul(self.table.ingress_byte_reception);
        self.scale(self.table.ingress_message_reception.saturating_add(per_byte))
    }

    /// Fee for sending an inter-canister request of `bytes` bytes.
    pub fn xnet_call(&self, bytes: usize) -> Cycles {
        let per_byte = (bytes as u128).saturating_mul(self.table.xnet_byte);
        self.scale(self.table.xnet_call.saturating_add(per_byte))
    }

    /// Storage fee of `bytes` held for `seconds`.
    pub fn storage(&self, bytes: u64, seconds: u64) -> Cycles {
        let gib_ns = u128::from(bytes).saturating_mul(u128::from(seconds));
        self.scale(gib_ns.saturating_mul(self.table.gib_storage_per_second) / GIB)
    }

    /// Fee of holding `percent` compute allocation for `seconds`.
    pub fn compute_allocation(&self, percent: u8, seconds: u64) -> Cycles {
        let ps = u128::from(percent).saturating_mul(u128::from(seconds));
        self.scale(ps.saturating_mul(self.table.compute_percent_per_second))
    }

    /// Cycles an idle canister burns per day (`canister_status.idle_cycles_burned_per_day`).
    pub fn idle_cycles_burned_per_day(&self, memory_bytes: u64, compute_percent: u8) -> Cycles {
        let day = SECONDS_PER_DAY as u64;
        self.storage(memory_bytes, day).saturating_add(self.compute_allocation(compute_percent, day))
    }

    /// The freezing threshold: what the canister needs to stay alive, idle, for
    /// `freezing_threshold_seconds`. A balance at or below it freezes the canister.
    pub fn freezing_threshold(&self, memory_bytes: u64, compute_percent: u8, freezing_threshold_seconds: u64) -> Cycles {
        self.storage(memory_bytes, freezing_threshold_seconds)
            .saturating_add(self.compute_allocation(compute_percent, freezing_threshold_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_scale_with_subnet_size_and_system_is_free() {
        let thirteen = CyclesConfig::new(SubnetType::Application, 13);
        let one = CyclesConfig::new(SubnetType::Application, 1);
        let system = CyclesConfig::new(SubnetType::System, 13);
        assert_eq!(thirteen.canister_creation(), Cycles::new(500_000_000_000));
        assert_eq!(one.canister_creation(), Cycles::new(500_000_000_000 / 13));
        assert_eq!(thirteen.ingress(10), Cycles::new(1_200_000 + 20_000));
        assert_eq!(thirteen.xnet_call(100), Cycles::new(360_000));
        assert_eq!(thirteen.instructions(11), Cycles::new(20));
        assert_eq!(system.canister_creation(), Cycles::ZERO);
        assert_eq!(system.update_message_base(), Cycles::ZERO);
    }

    #[test]
    fn freezing_threshold_is_storage_for_the_threshold_period() {
        let c = CyclesConfig::new(SubnetType::Application, 13);
        // 1 GiB for 30 days at 127,000 per GiB·s.
        let t = c.freezing_threshold(1 << 30, 0, 2_592_000);
        assert_eq!(t, Cycles::new(127_000 * 2_592_000));
        assert_eq!(c.idle_cycles_burned_per_day(1 << 30, 1), Cycles::new(127_000 * 86_400 + 10_000_000 * 86_400));
        assert_eq!(c.freezing_threshold(0, 0, 2_592_000), Cycles::ZERO);
    }

    #[test]
    fn arithmetic_never_wraps() {
        let max = Cycles::new(u128::MAX);
        assert_eq!(max.saturating_add(Cycles::new(1)), max);
        assert_eq!(Cycles::ZERO.checked_sub(Cycles::new(1)), None);
        assert_eq!(Cycles::new(3).saturating_sub(Cycles::new(5)), Cycles::ZERO);
    }
}
