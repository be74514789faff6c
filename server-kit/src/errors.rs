//! Errors tonic answers before a handler runs (a request over the message size limit) carry
//! no typed detail. [`rewrite_layer`] gives every server one place to replace such an answer
//! with a typed one: a tower layer over the whole router that looks at trailers-only error
//! responses (where a refused request's status travels, in the headers) and swaps the status
//! for the one `rewrite` returns, if any.

use tonic::body::Body;
use tonic::Status;

/// The layer: `rewrite(status)` returns the status to answer instead, or `None` to keep it.
pub fn rewrite_layer(
    rewrite: fn(&Status) -> Option<Status>,
) -> tower::util::MapResponseLayer<impl Fn(http::Response<Body>) -> http::Response<Body> + Clone> {
    tower::util::MapResponseLayer::new(move |response: http::Response<Body>| {
        match Status::from_header_map(response.headers()).and_then(|s| rewrite(&s)) {
            Some(typed) => typed.into_http(),
            None => response,
        }
    })
}
