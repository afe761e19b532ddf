//! The CMOS real-time clock: wall-clock time at boot, to one-second resolution. The
//! calibrated TSC carries it forward from there.

use x86_64::instructions::port::Port;

fn read_register(reg: u8) -> u8 {
    let mut index = Port::<u8>::new(0x70);
    let mut data = Port::<u8>::new(0x71);
    // SAFETY: CMOS index/data ports; bit 7 of the index keeps NMIs enabled state unchanged
    // on QEMU, and only the time registers are read.
    unsafe {
        index.write(reg);
        data.read()
    }
}

fn update_in_progress() -> bool {
    read_register(0x0a) & 0x80 != 0
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Reading([u8; 7]);

fn read_once() -> Reading {
    while update_in_progress() {
        core::hint::spin_loop();
    }
    Reading([0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32].map(read_register))
}

/// Seconds since the Unix epoch according to the RTC (assumed to run in UTC, as QEMU's does).
pub fn unix_seconds() -> u64 {
    // Read until two consecutive readings agree, so an update mid-read cannot tear it.
    let mut last = read_once();
    loop {
        let next = read_once();
        if next == last {
            break;
        }
        last = next;
    }
    let status_b = read_register(0x0b);
    let bcd = status_b & 0x04 == 0;
    let decode = |v: u8| if bcd { (v & 0x0f) + (v >> 4) * 10 } else { v };
    let [sec, min, hour, day, month, year, century] = last.0;
    let hour = if status_b & 0x02 == 0 && hour & 0x80 != 0 {
        (decode(hour & 0x7f) % 12) + 12 // 12-hour clock, PM
    } else {
        decode(hour)
    };
    let century = match decode(century) {
        c @ 19..=30 => u64::from(c),
        _ => 20,
    };
    let year = century * 100 + u64::from(decode(year));
    let days = days_from_civil(year, u64::from(decode(month)), u64::from(decode(day)));
    days * 86_400 + u64::from(hour) * 3600 + u64::from(decode(min)) * 60 + u64::from(decode(sec))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let month = month.clamp(1, 12);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day.max(1) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;

    ktest! {
        fn civil_dates_map_to_unix_days() {
            assert_eq!(days_from_civil(1970, 1, 1), 0);
            assert_eq!(days_from_civil(2000, 3, 1), 11_017);
            assert_eq!(days_from_civil(2026, 11, 25), 20_782);
        }
    }

    ktest! {
        fn rtc_reads_a_plausible_date() {
            // Later than 2024-01-01 and earlier than 2100: the host's clock, passed through.
            let now = unix_seconds();
            assert!(now > 1_704_067_200 && now < 4_102_444_800, "rtc says {now}");
        }
    }
}
