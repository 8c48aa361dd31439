"""The baseline is the latest model blessed before the candidate."""

from tfx.types import standard_artifacts

from pipeline.metadata import resolvers as baseline


def _model(artifact_id):
    model = standard_artifacts.Model()
    model.id = artifact_id
    return model


def _blessing(model_id, blessed):
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("current_model_id", model_id)
    blessing.set_int_custom_property("blessed", int(blessed))
    return blessing


MODELS = [_model(i) for i in (1, 5, 9)]
BLESSINGS = [_blessing(1, True), _blessing(5, True), _blessing(9, True)]


def _ids(result):
    return [a.id for a in result[baseline.MODEL_KEY]]


def test_cached_candidate_gets_the_same_baseline_as_its_first_run():
    # Model 9 is the candidate again (Trainer cached) and is itself blessed:
    # TFX's latest-blessed strategy would return 9 itself.
    assert _ids(baseline.latest_blessed_before(MODELS, BLESSINGS,
                                               [MODELS[2]])) == [5]


def test_first_model_has_no_baseline():
    result = baseline.latest_blessed_before(MODELS[:1], BLESSINGS[:1],
                                            [MODELS[0]])
    assert result == {baseline.MODEL_KEY: [], baseline.BLESSING_KEY: []}


def test_unblessed_models_are_skipped():
    blessings = [_blessing(1, True), _blessing(5, False)]
    new = _model(12)
    result = baseline.latest_blessed_before(MODELS + [new], blessings, [new])
    assert _ids(result) == [1]
    assert result[baseline.BLESSING_KEY][0].get_int_custom_property(
        "current_model_id") == 1


def test_without_candidate_returns_latest_blessed():
    assert _ids(baseline.latest_blessed_before(MODELS, BLESSINGS, [])) == [9]
