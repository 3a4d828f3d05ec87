//! Room numbers and Endpoint IDs of a simulated building.
//!
//! Rooms are numbered floor by floor as on door signs: the i-th room
//! (from 0) with `per_floor` rooms a floor is on floor `i / per_floor + 1`
//! and has number `floor × 100 + i % per_floor + 1`. With the default 20
//! rooms a floor: 101…120, 201…220, …; 10,000 rooms end at 50020. Its
//! Agent is `proto::room-<number>` (what the example rules match with
//! `proto::room-{room}`), its capabilities are named `r<number>-…`.

/// Most rooms a floor (so that numbers stay two digits per floor).
pub(crate) const MAX_PER_FLOOR: u32 = 99;

/// The number of the `index`-th room (from 0), `per_floor` rooms a floor
/// (1 to [`MAX_PER_FLOOR`]).
pub(crate) fn room_number(index: usize, per_floor: u32) -> u64 {
    let per_floor = u64::from(per_floor.clamp(1, MAX_PER_FLOOR));
    let index = index as u64;
    (index / per_floor + 1) * 100 + index % per_floor + 1
}

/// The Endpoint ID of room `number`.
pub(crate) fn endpoint_id(number: u64) -> String {
    format!("proto::room-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn door_sign_numbers() {
        assert_eq!(room_number(0, 20), 101);
        assert_eq!(room_number(19, 20), 120);
        assert_eq!(room_number(20, 20), 201);
        assert_eq!(room_number(9_999, 20), 50_020);
        assert_eq!(room_number(5, 1), 601);
        assert_eq!(room_number(98, 99), 199);
        assert_eq!(room_number(3, 0), 401, "0 a floor is read as 1");
        assert_eq!(endpoint_id(101), "proto::room-101");
        assert!(usp_proto::EndpointId::parse(&endpoint_id(room_number(123_456, 20))).is_ok());
    }
}
