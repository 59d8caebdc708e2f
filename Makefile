# The two commands a newcomer needs (see README.md):
#   make demo   build everything and run the main job on the default machine
#   make test   build and run every test, plain, under ASan+UBSan and TSan
# Both install what is missing first (scripts/deps.sh).

BUILD ?= build

.PHONY: demo test build deps clean bench

demo: build
	./$(BUILD)/sgxemu demo

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$$(nproc)

test: deps
	scripts/test.sh

bench: build
	./$(BUILD)/sgxemu bench build
	./$(BUILD)/sgxemu bench epc

deps:
	@scripts/deps.sh

clean:
	rm -rf build build-*
