"""torch_threads: the body runs with the asked thread count, the process's setting comes back."""

import pytest
import torch

from deepexpr.models.threads import torch_threads


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with torch_threads(target):
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before


def test_torch_threads_zero_keeps_setting_and_restores_after_error():
    before = torch.get_num_threads()
    with torch_threads(0):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1 if before != 1 else 2):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_stylized_detection_leaves_process_threads_alone():
    from deepexpr.models import stylized_face
    from deepexpr.stylized import StylizedConfig, detect_stylized_faces

    torch.manual_seed(0)
    model = stylized_face.test_stylized_face().eval()
    before = torch.get_num_threads()
    image = (torch.rand(96, 96, 3) * 255).byte().numpy()
    faces = detect_stylized_faces(image, StylizedConfig(threads=1, threshold=0.0), model=model)
    assert isinstance(faces, list)
    assert torch.get_num_threads() == before
