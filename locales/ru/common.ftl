app-name = Почта
skip-to-content = Перейти к содержимому
footer = Почта — один почтовый домен на много площадок
nav-label = Главное меню
nav-dashboard = Обзор
nav-users = Пользователи
nav-groups = Псевдонимы и рассылки
nav-sites = Площадки
nav-dns = DNS
nav-history = Журнал
nav-import = Импорт
nav-me = Моя учётная запись
lang-switch = Язык
logout = Выйти
cancel = Отмена
save = Сохранить
copy = Скопировать
delete-button = Удалить
error-title = Что-то пошло не так
error-status = Код ответа HTTP: { $status }
error-home = На главную страницу
pager-label = Страницы
pager-first = Первая
pager-prev = Назад
pager-next = Вперёд
pager-last = Последняя
pager-position = Страница { $page } из { $pages }
password-rules = Не меньше { $min } символов, не только буквы и не только цифры.
password-rules-optional = Необязательно. Не меньше { $min } символов, не только буквы и не только цифры. Без пароля пользователь пока не сможет войти.
ago-seconds = { $count ->
    [one] { $count } секунду назад
    [few] { $count } секунды назад
   *[many] { $count } секунд назад
}
ago-minutes = { $count ->
    [one] { $count } минуту назад
    [few] { $count } минуты назад
   *[many] { $count } минут назад
}
ago-hours = { $count ->
    [one] { $count } час назад
    [few] { $count } часа назад
   *[many] { $count } часов назад
}
ago-days = { $count ->
    [one] { $count } день назад
    [few] { $count } дня назад
   *[many] { $count } дней назад
}
