//! The REST API as a library: the Lambda (`main.rs`) and the API benchmark (`tools/bench`)
//! run the same code. `handler` holds the routing table; each route's handler has its file.

pub mod call;
pub mod config;
pub mod experiment_ports;
pub mod handler;
pub mod live;
pub mod output_pointer;
pub mod paging;
pub mod placement_views;
pub mod pointer_cache;
pub mod ports;
pub mod read_cache;
pub mod response;
pub mod result_set_lookup;
pub mod schedule_views;
pub mod serving_metrics;
pub mod version_switch;
pub mod version_views;
pub mod views;

pub mod audience_read;
pub mod audience_show;
pub mod audience_users;
pub mod cancel;
pub mod data_files;
pub mod discard;
pub mod events_post;
pub mod list;
pub mod placement_delete;
pub mod placement_list;
pub mod placement_metrics;
pub mod placement_put;
pub mod placement_serve;
pub mod placement_show;
pub mod promote;
pub mod recommendation_query;
pub mod recommendations;
pub mod result_set_list;
pub mod result_set_show;
pub mod retry;
pub mod rollback;
pub mod schedule_delete;
pub mod schedule_list;
pub mod schedule_show;
pub mod schedule_state;
pub mod show;
pub mod similar_items;
pub mod submit;
pub mod trigger_delete;
pub mod trigger_list;
pub mod trigger_show;
pub mod ui;

#[cfg(any(test, feature = "fakes"))]
pub mod fake;
#[cfg(test)]
mod output_routes_tests;
