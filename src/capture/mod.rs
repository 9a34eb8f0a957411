//! From a camera frame or photo to capture guidance: find the face ([`detect`], MTCNN),
//! measure what a person can fix ([`guidance`]: size, pose, light, sharpness…), and combine
//! both with GraFIQs quality into one [`assess::Assessment`] per frame.

pub mod assess;
pub mod detect;
pub mod guidance;
