#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

static int answer = 0;

int main() {
    std::thread t([] { answer = 42; });
    t.join();
    std::string caught;
    try {
        throw std::runtime_error("boom");
    } catch (const std::exception &e) {
        caught = e.what();
    }
    std::cout << "hello from C++, thread says " << answer << ", caught " << caught << std::endl;
    return answer == 42 && caught == "boom" ? 0 : 1;
}
