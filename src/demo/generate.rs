//! placeholder until the generator helper lands
