//! Guidance measures and advice on real faces and controlled degradations.

mod common;

use common::*;
use grafiqs::align::ARCFACE_TEMPLATE;
use grafiqs::capture::guidance::{self, Advice, FaceGeometry};
use grafiqs::degrade;

/// A face that fills a 640×480 frame comfortably: the template scaled ×2.5 around the centre.
fn frame_face(scale: f32, dx: f32, dy: f32) -> FaceGeometry {
    let lm = ARCFACE_TEMPLATE.map(|p| {
        [
            320.0 + dx + (p[0] as f32 - 56.0) * scale,
            240.0 + dy + (p[1] as f32 - 60.0) * scale,
        ]
    });
    let bbox = [
        320.0 + dx - 48.0 * scale,
        240.0 + dy - 60.0 * scale,
        320.0 + dx + 48.0 * scale,
        240.0 + dy + 56.0 * scale,
    ];
    FaceGeometry {
        bbox,
        landmarks: lm,
    }
}

#[test]
fn pose_of_the_template_is_frontal_and_rotation_is_measured() {
    let lm = ARCFACE_TEMPLATE.map(|p| [p[0] as f32, p[1] as f32]);
    let (yaw, pitch, roll0) = guidance::head_pose(&lm);
    assert!(
        yaw.abs() < 1.0 && pitch.abs() < 1.0 && roll0.abs() < 1.0,
        "{yaw} {pitch} {roll0}"
    );
    // Rotate the landmarks by 25° in the image plane: roll 25, yaw and pitch unchanged.
    let (c, s) = (25f32.to_radians().cos(), 25f32.to_radians().sin());
    let rot = lm.map(|p| {
        [
            56.0 + c * (p[0] - 56.0) - s * (p[1] - 60.0),
            60.0 + s * (p[0] - 56.0) + c * (p[1] - 60.0),
        ]
    });
    let (yaw, pitch, roll) = guidance::head_pose(&rot);
    assert!((roll - roll0 - 25.0).abs() < 1e-3, "{roll}");
    assert!(yaw.abs() < 1.0 && pitch.abs() < 1.0, "{yaw} {pitch}");
    // Nose shifted sideways by a third of the inter-eye distance: clearly turned.
    let mut turned = lm;
    turned[2][0] += 35.2 / 3.0;
    let (yaw, _, _) = guidance::head_pose(&turned);
    assert!(yaw > 30.0, "{yaw}");
}

#[test]
fn clean_faces_pass_and_degradations_trigger_the_right_advice() {
    let Some(assets) = assets() else { return };
    let faces = lfw_colour_aligned(&assets);
    let geom = frame_face(2.5, 0.0, 0.0);
    let (mut clean_pass, mut dark_more_light, mut blur_hold_still, mut bright_less) = (0, 0, 0, 0);
    for (name, face) in &faces {
        let m = guidance::measure((640, 480), &geom, &[], face, None);
        let advice = guidance::advise(&m, &geom, (640, 480));
        eprintln!(
            "{name}: brightness {:.0} contrast {:.1} uniformity {:.2} sharpness {:.0} exposure {:.3} -> {:?}",
            m.brightness.value,
            m.contrast.value,
            m.uniformity.value,
            m.sharpness.value,
            m.exposure.value,
            advice
        );
        if advice.is_empty() {
            clean_pass += 1;
        }
        let dark = degrade::darken(face, 0.3);
        let a = guidance::advise(
            &guidance::measure((640, 480), &geom, &[], &dark, None),
            &geom,
            (640, 480),
        );
        if a.first() == Some(&Advice::MoreLight) {
            dark_more_light += 1;
        }
        let blurred = degrade::gaussian_blur(face, 2.0);
        let a = guidance::advise(
            &guidance::measure((640, 480), &geom, &[], &blurred, None),
            &geom,
            (640, 480),
        );
        if a.contains(&Advice::HoldStill) {
            blur_hold_still += 1;
        }
        let bright = degrade::darken(face, 2.2);
        let a = guidance::advise(
            &guidance::measure((640, 480), &geom, &[], &bright, None),
            &geom,
            (640, 480),
        );
        if a.contains(&Advice::LessLight) {
            bright_less += 1;
        }
    }
    eprintln!(
        "clean all-pass {clean_pass}/12, dark→more light {dark_more_light}/12, blur→hold still {blur_hold_still}/12, bright→less light {bright_less}/12"
    );
    // Two of the twelve LFW photos are strongly side-lit with the head turned (Alberto_Acosta_0001,
    // Alberto_Ruiz_Gallardon_0002): advice there is expected.
    assert!(clean_pass >= 10, "clean faces passing: {clean_pass}/12");
    assert_eq!(dark_more_light, 12);
    assert!(
        blur_hold_still >= 11,
        "blur detected on {blur_hold_still}/12"
    );
    assert!(
        bright_less >= 10,
        "over-exposure detected on {bright_less}/12"
    );
}

#[test]
fn geometry_advice() {
    let face = grafiqs::RgbImage::new(112, 112, vec![128.0; 112 * 112 * 3]).unwrap();
    let adv = |g: FaceGeometry, others: &[FaceGeometry]| {
        let m = guidance::measure((640, 480), &g, others, &face, None);
        guidance::advise(&m, &g, (640, 480))
    };
    assert!(adv(frame_face(0.8, 0.0, 0.0), &[]).contains(&Advice::MoveCloser));
    assert!(adv(frame_face(9.0, 0.0, 0.0), &[]).contains(&Advice::MoveBack));
    assert!(adv(frame_face(2.5, 250.0, 0.0), &[]).contains(&Advice::FaceCutOff));
    assert!(adv(frame_face(2.5, 190.0, 0.0), &[]).contains(&Advice::MoveToCenter));
    let a = adv(frame_face(2.5, 0.0, 0.0), &[frame_face(2.0, 150.0, 0.0)]);
    assert_eq!(a.first(), Some(&Advice::MultipleFaces));
    // A small face far in the background does not count as a second person.
    assert!(
        !adv(frame_face(2.5, 0.0, 0.0), &[frame_face(0.5, 200.0, -150.0)])
            .contains(&Advice::MultipleFaces)
    );
    for a in [Advice::NoFace, Advice::MoveCloser, Advice::LowQuality] {
        assert!(!a.code().is_empty() && !a.message().is_empty());
    }
}
